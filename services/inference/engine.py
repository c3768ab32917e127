"""The inference engine: vLLM's `AsyncLLM` in-process, driven the way vLLM's OpenAI chat server drives it.

Per request: our checks → vLLM's `ChatCompletionRequest` → vLLM's `OnlineRenderer` (chat template with tools,
tool-choice structural tags) → our context-length checks → `AsyncLLM.generate` → vLLM's `Parser`
(Hermes tool calls + Qwen3 reasoning): `parse_delta` while streaming, `parse` for a whole answer.
Importing this module imports vLLM (seconds); `engine_config` and `instant_engine` do not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

from vllm.config import StructuredOutputsConfig
from vllm.engine.arg_utils import AsyncEngineArgs
from vllm.entrypoints.openai.chat_completion.protocol import ChatCompletionRequest
from vllm.entrypoints.serve.utils.api_utils import get_max_tokens
from vllm.exceptions import GracefulHTTPError, VLLMClientError, VLLMValidationError
from vllm.outputs import RequestOutput
from vllm.parser import ParserManager
from vllm.parser.abstract_parser import Parser
from vllm.renderers.chat_utils import load_chat_template
from vllm.renderers.online_renderer import OnlineRenderer
from vllm.v1.engine.async_llm import AsyncLLM
from vllm.v1.engine.exceptions import EngineDeadError, EngineGenerateError
from vllm.v1.metrics.stats import RequestStateStats

from jan.v1 import inference_service_pb2 as pb
from services.common.errors import Internal, InvalidArgument, NotFound, Unavailable
from services.inference.answers import (
    PreparedRequest,
    StreamedAnswer,
    TokenCounter,
    carries_something,
    next_step,
    usage,
    whole_answer,
)
from services.inference.domain import answer_count
from services.inference.engine_config import EngineConfig
from services.inference.inline_render import install as install_inline_render
from services.inference.parser_cache import cache_parser_lexers
from services.inference.prompt import check_lengths, render_to_fit
from services.inference.validation import validate_request
from services.inference.vllm_adapter import compact_tool_calls, invalid_argument, to_chat_request

log = logging.getLogger(__name__)

__all__ = ["EngineConfig", "InferenceEngine"]


class InferenceEngine:
    def __init__(self, config: EngineConfig) -> None:
        self.config = config
        self.served_name = config.served_model_name or config.model
        self._llm: AsyncLLM | None = None
        self._renderer: OnlineRenderer | None = None
        self._parser_cls: type[Parser] | None = None
        self._defaults: dict[str, Any] = {}
        self._override_max_tokens: int | None = None
        self._created = 0

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model. vLLM's blocking start-up runs in a thread so the event loop stays responsive."""
        t0 = time.monotonic()
        log.info("inference engine: loading %s as %r", self.config.model, self.served_name)
        # vLLM reads this while building its config; set both ways so an earlier engine's choice never leaks.
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0" if self.config.single_process else "1"
        self._llm = await asyncio.to_thread(self._build_llm)
        log.info("inference engine: engine core up after %.1f s, preparing the chat template", time.monotonic() - t0)
        await asyncio.to_thread(self._build_frontend, self._llm)
        self._created = int(time.time())
        log.info("inference engine: ready in %.1f s (max_model_len=%d)", time.monotonic() - t0, self._max_model_len())

    def _build_llm(self) -> AsyncLLM:
        c = self.config
        kwargs: dict[str, Any] = {
            "model": c.model,
            "served_model_name": [self.served_name],
            "dtype": c.dtype,
            "max_model_len": c.max_model_len,
            "kv_cache_memory_bytes": c.kv_cache_memory_bytes,
            "enforce_eager": c.enforce_eager,
            "max_num_seqs": c.max_num_seqs,
            "seed": c.seed,
            "enable_log_requests": c.log_requests,
            # On with the service's metrics: vLLM then keeps its Prometheus metrics (vllm:*, queue, KV cache,
            # time to first token) in prometheus_client's default registry, which the metrics endpoint serves.
            "disable_log_stats": not c.log_stats,
            # The engine core uses the reasoning parser to start a grammar only after </think>.
            "structured_outputs_config": StructuredOutputsConfig(
                # vLLM allows compact JSON only with a named backend; xgrammar is the one that works on CPU.
                backend="xgrammar" if c.compact_json else "auto",
                reasoning_parser=c.reasoning_parser or "",
                enable_in_reasoning=c.structured_outputs_in_reasoning,
                disable_any_whitespace=c.compact_json,
            ),
        }
        if c.gpu_memory_utilization is not None:
            kwargs["gpu_memory_utilization"] = c.gpu_memory_utilization
        return AsyncLLM.from_engine_args(AsyncEngineArgs(**kwargs))

    def _build_frontend(self, llm: AsyncLLM) -> None:
        c = self.config
        auto_tools = c.tool_call_parser is not None
        renderer = OnlineRenderer(
            model_config=llm.model_config,
            renderer=llm.renderer,
            request_logger=None,
            chat_template=load_chat_template(c.chat_template),
            chat_template_content_format="auto",
            enable_auto_tools=auto_tools,
            tool_parser=c.tool_call_parser,
            reasoning_parser=c.reasoning_parser,
            default_chat_template_kwargs=dict(c.default_chat_template_kwargs),
        )
        renderer.warmup()  # compiles the Jinja template now rather than on the first request
        cache_parser_lexers()
        install_inline_render(llm.renderer)
        self._parser_cls = ParserManager.get_parser(
            tool_parser_name=c.tool_call_parser,
            reasoning_parser_name=c.reasoning_parser,
            enable_auto_tools=auto_tools,
            model_name=llm.model_config.model,
            tokenizer=llm.renderer.tokenizer,
        )
        mc = llm.model_config
        self._defaults = mc.get_diff_sampling_param()
        # Same rule as vLLM's chat server for a max_tokens cap taken from the model's generation config.
        self._override_max_tokens = (
            self._defaults.get("max_tokens")
            if mc.generation_config not in ("auto", "vllm")
            else getattr(mc, "override_generation_config", {}).get("max_new_tokens")
        )
        self._renderer = renderer

    async def shutdown(self) -> None:
        llm, self._llm, self._renderer = self._llm, None, None
        if llm is None:
            return
        # Stop the output handler first: otherwise it sees the engine core go away and logs a false
        # "EngineDeadError" traceback on every clean shutdown.
        handler = llm.output_handler
        if handler is not None and not handler.done():
            handler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await handler
        await asyncio.to_thread(llm.shutdown)
        log.info("inference engine: shut down")

    # ---- state -----------------------------------------------------------------------------------------

    def models(self) -> list[pb.ServedModel]:
        if self._llm is None or self._renderer is None:
            return []
        return [
            pb.ServedModel(
                id=self.served_name,
                root=self.config.model,
                max_model_len=self._max_model_len(),
                created=self._created,
                owned_by=self.config.owned_by,
                tool_calling=self.config.tool_call_parser is not None,
            )
        ]

    def is_healthy(self) -> bool:
        return self._llm is not None and self._renderer is not None and not self._llm.errored

    @property
    def dead_error(self) -> BaseException | None:
        return self._llm.dead_error if self._llm is not None and self._llm.errored else None

    def num_running_requests(self) -> int:
        return self._llm.get_num_unfinished_requests() if self._llm is not None else 0

    @property
    def tokenizer(self) -> Any:
        return self._ready()[0].renderer.tokenizer

    # ---- generation ------------------------------------------------------------------------------------

    async def generate(self, req: pb.GenerateRequest) -> AsyncIterator[pb.GenerateResponse]:
        """Stream the answer (n answers interleaved, told apart by `index`). Each answer's last delta has its
        finish_reason; the very last delta also has the usage of all answers.

        Close the iterator (`contextlib.aclosing`) or cancel the task consuming it to abort the engine request.
        """
        p = await self._prepare(req, stream=True)
        answers = [StreamedAnswer(parser) for parser in p.parsers]
        unfinished = p.n
        counter = TokenCounter()
        async with aclosing(self._engine_stream(p)) as outputs:
            async for res in outputs:
                for out in res.outputs:
                    step = next_step(p, answers[out.index], out, res.prompt_token_ids)
                    if step is None:
                        continue
                    counter.generated(len(out.token_ids))
                    if step.finish_reason:
                        unfinished -= 1
                        if unfinished == 0:
                            step.usage.CopyFrom(usage(p, res, [a.token_ids for a in answers]))
                    if carries_something(step):
                        counter.stamp(step, res, p)
                        yield step

    async def generate_whole(self, req: pb.GenerateRequest) -> list[pb.GenerateResponse]:
        """Every answer whole, in index order, parsed with vLLM's non-streaming parser path; the first also
        carries the usage of all answers."""
        p = await self._prepare(req, stream=False)
        final: RequestOutput | None = None
        async with aclosing(self._engine_stream(p)) as outputs:
            async for res in outputs:
                final = res
        if final is None or len(final.outputs) != p.n:
            raise Internal("the engine returned no output", code="generation_error")
        prompt_ids = final.prompt_token_ids or p.prompt_ids
        auto_tools = self.config.tool_call_parser is not None
        outputs_in_order = sorted(final.outputs, key=lambda o: o.index)
        answers = [whole_answer(p, out, prompt_ids, auto_tools=auto_tools) for out in outputs_in_order]
        answers[0].usage.CopyFrom(usage(p, final, [list(out.token_ids) for out in final.outputs]))
        stats = final.metrics  # vLLM's timings of the request, kept when its stat logging is on (metrics)
        if isinstance(stats, RequestStateStats) and stats.first_token_ts:
            answers[0].decode_seconds = max(0.0, stats.last_token_ts - stats.first_token_ts)
        return answers

    async def _engine_stream(self, p: PreparedRequest) -> AsyncGenerator[RequestOutput]:
        """AsyncLLM.generate with its errors turned into ours. Closing this generator aborts the request."""
        llm, _ = self._ready()
        started = False
        try:
            results = llm.generate(
                p.engine_input,
                p.sampling,
                p.request_id,
                reasoning_ended=p.reasoning_ended,
                reasoning_parser_kwargs=p.reasoning_kwargs,
            )
            async with aclosing(results):
                async for res in results:
                    started = True
                    if any(out.finish_reason == "error" for out in res.outputs):
                        raise Internal("the engine failed while generating", code="generation_error")
                    yield res
        except EngineDeadError:
            raise self._dead() from None
        except GracefulHTTPError as e:
            raise Unavailable(str(e), code="engine_overloaded") from None
        except VLLMClientError as e:
            raise invalid_argument(e) from None
        except EngineGenerateError as e:
            if llm.errored:
                raise self._dead() from None
            cause = e.__cause__
            if not started and isinstance(cause, (ValueError, TypeError)):
                raise invalid_argument(cause) from None  # rejected at admission, e.g. a grammar xgrammar refuses
            log.exception("generation failed for %s", p.request_id)
            raise Internal("generation failed", code="generation_error") from None

    def check_request(self, req: pb.GenerateRequest) -> None:
        """Everything about a request that needs no loaded model: its fields, the model name, tool use."""
        validate_request(req)
        if req.model != self.served_name:
            raise NotFound(f"The model '{req.model}' does not exist", param="model", code="model_not_found")
        if req.tools and self.config.tool_call_parser is None and req.tool_choice.mode != "none":
            raise InvalidArgument(
                f"The model '{req.model}' is served without tool calling, so it cannot be given tools. "
                "Send the request without 'tools', or with tool_choice 'none'.",
                param="tools",
            )

    async def count_tokens(self, req: pb.GenerateRequest) -> int:
        """The prompt tokens a generation would send: rendered and cut to the context as it would be."""
        self.check_request(req)
        _, renderer = self._ready()
        chat = to_chat_request(req, stream=False)
        requested_max = req.sampling.max_tokens if req.sampling.HasField("max_tokens") else None
        _, prompt_ids, _ = await self._render_to_fit(req, chat, renderer, requested_max, stream=False)
        return len(prompt_ids)

    async def _render_to_fit(
        self,
        req: pb.GenerateRequest,
        chat: ChatCompletionRequest,
        renderer: OnlineRenderer,
        max_tokens: int | None,
        *,
        stream: bool,
    ) -> tuple[ChatCompletionRequest, list[int], Any]:
        limit, inline = self._max_model_len(), self.config.inline_render_max_chars
        return await render_to_fit(req, chat, renderer, limit, max_tokens, stream=stream, inline_max_chars=inline)

    async def _prepare(self, req: pb.GenerateRequest, *, stream: bool) -> PreparedRequest:
        self.check_request(req)
        llm, renderer = self._ready()
        chat = to_chat_request(req, stream=stream)
        template_kwargs = renderer.effective_chat_template_kwargs(chat)
        parsers: list[Parser | None] = [
            self._parser_cls(
                llm.renderer.tokenizer, chat.tools, chat_template_kwargs=template_kwargs, model_config=llm.model_config
            )
            if self._parser_cls is not None
            else None
            for _ in range(answer_count(req.sampling))
        ]
        parser = parsers[0]
        requested_max = req.sampling.max_tokens if req.sampling.HasField("max_tokens") else None
        limit = self._max_model_len()
        chat, prompt_ids, engine_input = await render_to_fit(
            req,
            chat,
            renderer,
            limit,
            requested_max,
            stream=stream,
            inline_max_chars=self.config.inline_render_max_chars,
        )
        check_lengths(len(prompt_ids), requested_max, limit)
        if self.config.compact_json:
            compact_tool_calls(chat)  # the grammar vLLM's parser added while rendering
        bound = self._override_max_tokens  # a bound that yields to the context's room, unlike max_tokens
        if requested_max is None and req.default_max_tokens:  # the caller's limit (the chat service's)
            bound = min(bound or req.default_max_tokens, req.default_max_tokens)
        try:
            max_tokens = get_max_tokens(
                self._max_model_len(),
                requested_max,
                len(prompt_ids),
                self._defaults,
                bound,
            )
            sampling = chat.to_sampling_params(max_tokens, self._defaults)
        except (VLLMValidationError, ValueError) as e:
            raise invalid_argument(e) from None
        if stream:  # vLLM holds a stream's tokens back until this many are ready (never its first or last)
            sampling.stream_interval = self.config.stream_interval_tokens
        reasoning_kwargs = None
        if parser is not None and parser.reasoning_parser is not None:
            reasoning_kwargs = {"chat_template_kwargs": template_kwargs}
        return PreparedRequest(
            request_id=req.request_id or uuid.uuid4().hex,
            chat=chat,
            engine_input=engine_input,
            sampling=sampling,
            parsers=parsers,
            prompt_ids=prompt_ids,
            reasoning_ended=chat.resolve_reasoning_ended(parser, prompt_ids),
            reasoning_kwargs=reasoning_kwargs,
            named_tool=req.tool_choice.WhichOneof("choice") == "function_name",
            tokenizer=llm.renderer.tokenizer,
        )

    # ---- helpers ---------------------------------------------------------------------------------------

    def _max_model_len(self) -> int:
        llm = self._llm
        return int(llm.model_config.max_model_len) if llm is not None else 0

    def _ready(self) -> tuple[AsyncLLM, OnlineRenderer]:
        llm, renderer = self._llm, self._renderer
        if llm is None or renderer is None:
            raise Unavailable("the inference engine is not running", code="engine_not_ready")
        if llm.errored:
            raise self._dead()
        return llm, renderer

    @staticmethod
    def _dead() -> Unavailable:
        return Unavailable("the inference engine has stopped", code="engine_dead")
