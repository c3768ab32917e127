"""Maps domain errors to gRPC statuses (server side) and gRPC errors back to domain errors (client side).

Every error status a service sends carries two forms of the same facts: a google.rpc.Status in
grpc-status-details-bin (BadRequest field violations for native gRPC clients) and OpenAI's error JSON in
the x-jan-error trailer, which Envoy's Lua step makes the REST body.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any, cast

import grpc
from google.protobuf import any_pb2, descriptor_pool, duration_pb2
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from services.common import errors
from services.common.metrics import MethodMetrics, RpcMetrics

log = logging.getLogger(__name__)

_KIND_BY_CLASS: dict[str, type[errors.JanError]] = {
    cls.kind.grpc_code: cls
    for cls in (
        errors.InvalidArgument,
        errors.NotFound,
        errors.AlreadyExists,
        errors.Unauthenticated,
        errors.PermissionDenied,
        errors.FailedPrecondition,
        errors.ResourceExhausted,
        errors.Unavailable,
        errors.DeadlineExceeded,
        errors.Unimplemented,
        errors.Internal,
    )
}


def status_code(error: errors.JanError) -> grpc.StatusCode:
    return grpc.StatusCode[error.kind.grpc_code]


def _retry_after(error: errors.JanError) -> int | None:
    return error.retry_after if isinstance(error, errors.ResourceExhausted) else None


def trailing_metadata(error: errors.JanError) -> tuple[tuple[str, str | bytes], ...]:
    code = status_code(error)
    status = status_pb2.Status(code=code.value[0], message=error.message)
    if error.param:
        violation = error_details_pb2.BadRequest.FieldViolation(field=error.param, description=error.message)
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.BadRequest(field_violations=[violation]))
        status.details.append(detail)
    retry_after = _retry_after(error)
    if retry_after is not None:
        detail = any_pb2.Any()
        detail.Pack(error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=retry_after)))
        status.details.append(detail)
    metadata: tuple[tuple[str, str | bytes], ...] = (
        ("grpc-status-details-bin", status.SerializeToString()),
        (errors.ERROR_METADATA_KEY, errors.encode_error_metadata(error.openai_body())),
    )
    if retry_after is not None:
        metadata += ((errors.RETRY_AFTER_METADATA_KEY, str(retry_after)),)
    if isinstance(error, errors.ResourceExhausted):
        metadata += tuple(error.headers.items())
    return metadata


async def abort(context: grpc.aio.ServicerContext, error: errors.JanError) -> None:
    await context.abort(status_code(error), error.message, trailing_metadata=trailing_metadata(error))


# asyncpg's errors that mean the database cannot be reached right now (by class name: only some services
# install asyncpg): its connection refused, lost, shut down or still starting. Any other database error is a bug.
_DATABASE_UNAVAILABLE = frozenset(
    {"PostgresConnectionError", "OperatorInterventionError", "InterfaceError", "ConnectionDoesNotExistError"}
)


def unreachable_dependency(exc: BaseException) -> bool:
    """A dependency (the database) that is down or restarting: the caller may retry, so UNAVAILABLE (503),
    not INTERNAL. asyncpg's pool raises the socket's own ConnectionRefusedError while the server is down."""
    if isinstance(exc, ConnectionError):
        return True
    return any(c.__module__.startswith("asyncpg") and c.__name__ in _DATABASE_UNAVAILABLE for c in type(exc).__mro__)


def _as_jan_error(exc: BaseException, method: str) -> errors.JanError:
    if isinstance(exc, errors.JanError):
        return exc
    if unreachable_dependency(exc):
        log.warning("%s: the database is unreachable (%s)", method, type(exc).__name__)
        return errors.Unavailable(
            "The service's database is unavailable; try again shortly", code="database_unavailable"
        )
    if isinstance(exc, NotImplementedError):
        return errors.Unimplemented(f"{method} is not implemented yet")
    if isinstance(exc, grpc.aio.AioRpcError):
        # A downstream call failed and nobody translated it: pass its code on, keep its message.
        return from_rpc_error(exc)
    log.exception("unhandled error in %s", method)
    return errors.Internal("internal server error")


class ErrorMapped:
    """Wraps a servicer so exceptions escaping its methods become statuses (an unexpected one INTERNAL, logged).

    The wrapping happens once, when the generated add_*_to_server reads the methods, instead of in a server
    interceptor, which would rebuild handlers on every call (measured ~0.1 ms of CPU per call).
    """

    def __init__(self, servicer: Any, service_name: str, metrics: RpcMetrics | None = None) -> None:
        self._servicer = servicer
        service = descriptor_pool.Default().FindServiceByName(service_name)
        self._streaming = {m.name: m.server_streaming for m in service.methods}
        self._service_name = service_name
        self._metrics = metrics  # counts and times every call (services/common/metrics.py) when given

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._servicer, name)
        if name not in self._streaming:
            return attribute
        streaming = self._streaming[name]
        measured = self._metrics.method(self._service_name, name, streaming=streaming) if self._metrics else None
        wrap = _wrap_stream if streaming else _wrap_unary
        return wrap(attribute, f"/{self._service_name}/{name}", measured)


class Undecodable:
    """Stands for a request whose bytes did not parse (a tolerant deserializer returns it), so the call is
    answered INVALID_ARGUMENT with both error forms instead of gRPC's bare UNKNOWN. Envoy's transcoder sends
    such bytes for a JSON object or list given where a map holds strings or numbers ({"metadata": {"k": {}}}):
    protobuf's JSON reader writes the map value as a message without checking its type."""

    __slots__ = ()

    def error(self) -> errors.InvalidArgument:
        return errors.InvalidArgument(
            "The request could not be parsed: a field holds a value of the wrong type "
            "(for example an object or a list where a string or a number belongs)"
        )


_UNDECODABLE = Undecodable()


def tolerant_deserializer(deserialize: Callable[[bytes], Any]) -> Callable[[bytes], Any]:
    def parse(data: bytes) -> Any:
        try:
            return deserialize(data)
        except DecodeError:
            return _UNDECODABLE

    return parse


def tolerant_handler(handler: grpc.RpcMethodHandler | None) -> grpc.RpcMethodHandler | None:
    if handler is None or handler.request_deserializer is None:
        return handler
    replaced: grpc.RpcMethodHandler = cast(Any, handler)._replace(
        request_deserializer=tolerant_deserializer(handler.request_deserializer)
    )
    return replaced


class _TolerantGenericHandler(grpc.GenericRpcHandler):
    def __init__(self, inner: grpc.GenericRpcHandler) -> None:
        self._inner = inner
        self._wrapped: dict[str, grpc.RpcMethodHandler | None] = {}

    def service(self, handler_call_details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler | None:
        method = cast(Any, handler_call_details).method
        if method not in self._wrapped:
            self._wrapped[method] = tolerant_handler(self._inner.service(handler_call_details))
        return self._wrapped[method]


class TolerantRegistration:
    """Given to a generated add_*_to_server in place of the server: registers every method with a tolerant
    deserializer (once, at registration; nothing added per call on the registered-method path)."""

    def __init__(self, server: grpc.aio.Server) -> None:
        self._server = server

    def add_generic_rpc_handlers(self, handlers: Sequence[grpc.GenericRpcHandler]) -> None:
        self._server.add_generic_rpc_handlers([_TolerantGenericHandler(h) for h in handlers])

    def add_registered_method_handlers(self, service: str, handlers: dict[str, grpc.RpcMethodHandler]) -> None:
        wrapped = {name: tolerant_handler(handler) for name, handler in handlers.items()}
        self._server.add_registered_method_handlers(service, cast(dict[str, grpc.RpcMethodHandler], wrapped))


def _aborted_code(context: grpc.aio.ServicerContext) -> str:
    """The status a servicer's own context.abort() set."""
    code = context.code()
    return code.name if isinstance(code, grpc.StatusCode) else "UNKNOWN"


def _failed(exc: Exception, method: str, metrics: MethodMetrics | None) -> errors.JanError:
    error = _as_jan_error(exc, method)
    if metrics is not None and error.over_limit is not None:
        metrics.limit_denied(error.over_limit, error.guest_limit)
    return error


# The wrappers below also count and time the call when given a method's metrics (None: no metrics, and the only
# cost is two `is None` checks). A call's code is OK, the code its error maps to, the code a servicer's own
# abort set, or CANCELLED when the caller went away (or its deadline passed) and gRPC cancelled the handler.


def _wrap_unary(
    behavior: Callable[..., Any], method: str, metrics: MethodMetrics | None = None
) -> Callable[..., Awaitable[Any]]:
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = metrics.start() if metrics is not None else 0.0
        code = "OK"
        try:
            if request is _UNDECODABLE:
                raise _UNDECODABLE.error()
            return await behavior(request, context)
        except grpc.aio.AbortError:
            code = _aborted_code(context)
            raise
        except asyncio.CancelledError:
            code = "CANCELLED"
            raise
        except Exception as exc:
            error = _failed(exc, method, metrics)
            code = error.kind.grpc_code
            await abort(context, error)
        finally:
            if metrics is not None:
                metrics.done(started, code)

    return wrapper


def _wrap_stream(
    behavior: Callable[..., Any], method: str, metrics: MethodMetrics | None = None
) -> Callable[..., AsyncIterator[Any]]:
    # Always an async generator: the tracing interceptor outside this one iterates whatever it gets.
    async def wrapper(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = metrics.start() if metrics is not None else 0.0
        code = "OK"
        try:
            if request is _UNDECODABLE:
                raise _UNDECODABLE.error()
            result = behavior(request, context)
            if inspect.isasyncgen(result):
                async for response in result:
                    yield response
            elif inspect.isawaitable(result):
                await result  # a coroutine that writes with context.write()
            else:
                for response in result:
                    yield response
        except grpc.aio.AbortError:
            code = _aborted_code(context)
            raise
        except (asyncio.CancelledError, GeneratorExit):
            code = "CANCELLED"
            raise
        except Exception as exc:
            error = _failed(exc, method, metrics)
            code = error.kind.grpc_code
            await abort(context, error)
        finally:
            if metrics is not None:
                metrics.done(started, code)

    return wrapper


def from_rpc_error(exc: grpc.aio.AioRpcError) -> errors.JanError:
    """Rebuilds the domain error a callee sent (param and code included), for callers that pass it on."""
    code = exc.code()
    cls = _KIND_BY_CLASS.get(code.name)
    if code in (grpc.StatusCode.CANCELLED, grpc.StatusCode.UNKNOWN) or cls is None:
        cls = errors.Unavailable if code == grpc.StatusCode.CANCELLED else errors.Internal
    param = err_code = retry_after = None
    for key, value in exc.trailing_metadata() or ():
        if key == errors.ERROR_METADATA_KEY:
            try:
                body = json.loads(value)["error"]
                param, err_code = body.get("param"), body.get("code")
            except (ValueError, KeyError, TypeError):
                pass
        elif key == errors.RETRY_AFTER_METADATA_KEY and isinstance(value, str) and value.isdigit():
            retry_after = int(value)
    if code == grpc.StatusCode.UNAVAILABLE:
        return errors.Unavailable(exc.details() or "upstream service unavailable", code=err_code)
    if cls is errors.ResourceExhausted:
        return errors.ResourceExhausted(
            exc.details() or code.name.lower(), param=param, code=err_code, retry_after=retry_after
        )
    return cls(exc.details() or code.name.lower(), param=param, code=err_code)
