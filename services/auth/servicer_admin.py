"""The organization admin RPCs of jan.v1.AuthService (OpenAI's admin API shapes), mixed into AuthServicer."""

from __future__ import annotations

from typing import TYPE_CHECKING

import grpc

from jan.v1 import auth_service_pb2 as pb
from services.auth import convert
from services.common.identity import Caller, caller_from_metadata

if TYPE_CHECKING:
    from services.auth.apikeys import ApiKeys
    from services.auth.organization import Organization

Ctx = grpc.aio.ServicerContext


def _caller(context: Ctx) -> Caller:
    return caller_from_metadata(context.invocation_metadata())


def _opt(request: object, name: str) -> int | str | None:
    return getattr(request, name) if request.HasField(name) else None  # type: ignore[attr-defined]


class AdminRpcs:
    _org: Organization
    _keys: ApiKeys

    # -- projects ------------------------------------------------------------------------------------
    async def ListProjects(self, request: pb.ListProjectsRequest, context: Ctx) -> pb.ListProjectsResponse:
        page = await self._org.list_projects(_caller(context), request.limit, request.after, request.include_archived)
        return convert.page(pb.ListProjectsResponse, page, convert.project)

    async def CreateProject(self, request: pb.CreateProjectRequest, context: Ctx) -> pb.Project:
        return convert.project(await self._org.create_project(_caller(context), request.name))

    async def GetProject(self, request: pb.GetProjectRequest, context: Ctx) -> pb.Project:
        return convert.project(await self._org.get_project(_caller(context), request.project_id))

    async def ModifyProject(self, request: pb.ModifyProjectRequest, context: Ctx) -> pb.Project:
        return convert.project(await self._org.modify_project(_caller(context), request.project_id, request.name))

    async def ArchiveProject(self, request: pb.ArchiveProjectRequest, context: Ctx) -> pb.Project:
        return convert.project(await self._org.archive_project(_caller(context), request.project_id))

    # -- project users -------------------------------------------------------------------------------
    async def ListProjectUsers(self, request: pb.ListProjectUsersRequest, context: Ctx) -> pb.ListProjectUsersResponse:
        page = await self._org.list_project_users(_caller(context), request.project_id, request.limit, request.after)
        return convert.page(pb.ListProjectUsersResponse, page, convert.project_user)

    async def CreateProjectUser(self, request: pb.CreateProjectUserRequest, context: Ctx) -> pb.ProjectUser:
        member = await self._org.add_project_user(
            _caller(context), request.project_id, request.user_id, _opt(request, "email"), request.role
        )  # type: ignore[arg-type]
        return convert.project_user(member)

    async def GetProjectUser(self, request: pb.GetProjectUserRequest, context: Ctx) -> pb.ProjectUser:
        member = await self._org.get_project_user(_caller(context), request.project_id, request.user_id)
        return convert.project_user(member)

    async def ModifyProjectUser(self, request: pb.ModifyProjectUserRequest, context: Ctx) -> pb.ProjectUser:
        member = await self._org.modify_project_user(
            _caller(context), request.project_id, request.user_id, request.role
        )
        return convert.project_user(member)

    async def DeleteProjectUser(
        self, request: pb.DeleteProjectUserRequest, context: Ctx
    ) -> pb.DeleteProjectUserResponse:
        await self._org.remove_project_user(_caller(context), request.project_id, request.user_id)
        return pb.DeleteProjectUserResponse(
            object="organization.project.user.deleted", id=request.user_id, deleted=True
        )

    # -- service accounts ----------------------------------------------------------------------------
    async def ListProjectServiceAccounts(
        self, request: pb.ListProjectServiceAccountsRequest, context: Ctx
    ) -> pb.ListProjectServiceAccountsResponse:
        page = await self._keys.list_service_accounts(
            _caller(context), request.project_id, request.limit, request.after
        )
        return convert.page(pb.ListProjectServiceAccountsResponse, page, convert.service_account)

    async def CreateProjectServiceAccount(
        self, request: pb.CreateProjectServiceAccountRequest, context: Ctx
    ) -> pb.CreateProjectServiceAccountResponse:
        sa, key = await self._keys.create_service_account(
            _caller(context), request.project_id, request.name, _opt(request, "expires_in_seconds")
        )  # type: ignore[arg-type]
        api_key = pb.ServiceAccountApiKey(
            id=key.id,
            object="organization.project.service_account.api_key",
            name=key.name,
            value=key.value,
            created_at=convert.ts(key.created_at),
            expires_at=convert.ts(key.expires_at),
        )
        return pb.CreateProjectServiceAccountResponse(
            id=sa.id,
            object="organization.project.service_account",
            name=sa.name,
            role=sa.role,
            created_at=convert.ts(sa.created_at),
            api_key=api_key,
        )

    async def GetProjectServiceAccount(
        self, request: pb.GetProjectServiceAccountRequest, context: Ctx
    ) -> pb.ProjectServiceAccount:
        sa = await self._keys.get_service_account(_caller(context), request.project_id, request.service_account_id)
        return convert.service_account(sa)

    async def ModifyProjectServiceAccount(
        self, request: pb.ModifyProjectServiceAccountRequest, context: Ctx
    ) -> pb.ProjectServiceAccount:
        sa = await self._keys.modify_service_account(
            _caller(context),
            request.project_id,
            request.service_account_id,
            _opt(request, "name"),
            _opt(request, "role"),
        )  # type: ignore[arg-type]
        return convert.service_account(sa)

    async def DeleteProjectServiceAccount(
        self, request: pb.DeleteProjectServiceAccountRequest, context: Ctx
    ) -> pb.DeleteProjectServiceAccountResponse:
        await self._keys.delete_service_account(_caller(context), request.project_id, request.service_account_id)
        return pb.DeleteProjectServiceAccountResponse(
            object="organization.project.service_account.deleted", id=request.service_account_id, deleted=True
        )

    # -- project API keys ----------------------------------------------------------------------------
    async def ListProjectApiKeys(
        self, request: pb.ListProjectApiKeysRequest, context: Ctx
    ) -> pb.ListProjectApiKeysResponse:
        page = await self._keys.list_project_keys(_caller(context), request.project_id, request.limit, request.after)
        return convert.page(pb.ListProjectApiKeysResponse, page, convert.project_api_key)

    async def CreateProjectApiKey(self, request: pb.CreateProjectApiKeyRequest, context: Ctx) -> pb.ProjectApiKey:
        key = await self._keys.create_project_key(
            _caller(context), request.project_id, request.name, _opt(request, "expires_in_seconds")
        )  # type: ignore[arg-type]
        return convert.project_api_key(key)

    async def GetProjectApiKey(self, request: pb.GetProjectApiKeyRequest, context: Ctx) -> pb.ProjectApiKey:
        key = await self._keys.get_project_key(_caller(context), request.project_id, request.api_key_id)
        return convert.project_api_key(key)

    async def ModifyProjectApiKey(self, request: pb.ModifyProjectApiKeyRequest, context: Ctx) -> pb.ProjectApiKey:
        key = await self._keys.modify_project_key(
            _caller(context), request.project_id, request.api_key_id, _opt(request, "expires_in_seconds")
        )  # type: ignore[arg-type]
        return convert.project_api_key(key)

    async def DeleteProjectApiKey(
        self, request: pb.DeleteProjectApiKeyRequest, context: Ctx
    ) -> pb.DeleteProjectApiKeyResponse:
        await self._keys.delete_project_key(_caller(context), request.project_id, request.api_key_id)
        return pb.DeleteProjectApiKeyResponse(
            object="organization.project.api_key.deleted", id=request.api_key_id, deleted=True
        )

    # -- admin API keys ------------------------------------------------------------------------------
    async def ListAdminApiKeys(self, request: pb.ListAdminApiKeysRequest, context: Ctx) -> pb.ListAdminApiKeysResponse:
        page = await self._keys.list_admin_keys(_caller(context), request.limit, request.after, request.order)
        return convert.page(pb.ListAdminApiKeysResponse, page, convert.admin_api_key)

    async def CreateAdminApiKey(self, request: pb.CreateAdminApiKeyRequest, context: Ctx) -> pb.AdminApiKey:
        key = await self._keys.create_admin_key(_caller(context), request.name, _opt(request, "expires_in_seconds"))  # type: ignore[arg-type]
        return convert.admin_api_key(key)

    async def GetAdminApiKey(self, request: pb.GetAdminApiKeyRequest, context: Ctx) -> pb.AdminApiKey:
        return convert.admin_api_key(await self._keys.get_admin_key(_caller(context), request.key_id))

    async def DeleteAdminApiKey(
        self, request: pb.DeleteAdminApiKeyRequest, context: Ctx
    ) -> pb.DeleteAdminApiKeyResponse:
        await self._keys.delete_admin_key(_caller(context), request.key_id)
        return pb.DeleteAdminApiKeyResponse(
            object="organization.admin_api_key.deleted", id=request.key_id, deleted=True
        )

    # -- invites -------------------------------------------------------------------------------------
    async def ListInvites(self, request: pb.ListInvitesRequest, context: Ctx) -> pb.ListInvitesResponse:
        page = await self._org.list_invites(_caller(context), request.limit, request.after)
        return convert.page(pb.ListInvitesResponse, page, convert.invite)

    async def CreateInvite(self, request: pb.CreateInviteRequest, context: Ctx) -> pb.Invite:
        projects = [(p.id, p.role) for p in request.projects]
        return convert.invite(await self._org.create_invite(_caller(context), request.email, request.role, projects))

    async def GetInvite(self, request: pb.GetInviteRequest, context: Ctx) -> pb.Invite:
        return convert.invite(await self._org.get_invite(_caller(context), request.invite_id))

    async def DeleteInvite(self, request: pb.DeleteInviteRequest, context: Ctx) -> pb.DeleteInviteResponse:
        await self._org.delete_invite(_caller(context), request.invite_id)
        return pb.DeleteInviteResponse(object="organization.invite.deleted", id=request.invite_id, deleted=True)

    # -- organization users --------------------------------------------------------------------------
    async def ListUsers(self, request: pb.ListUsersRequest, context: Ctx) -> pb.ListUsersResponse:
        page = await self._org.list_users(_caller(context), request.limit, request.after, list(request.emails))
        return convert.page(pb.ListUsersResponse, page, convert.org_user)

    async def GetUser(self, request: pb.GetUserRequest, context: Ctx) -> pb.OrganizationUser:
        return convert.org_user(await self._org.get_user(_caller(context), request.user_id))

    async def ModifyUser(self, request: pb.ModifyUserRequest, context: Ctx) -> pb.OrganizationUser:
        return convert.org_user(await self._org.modify_user(_caller(context), request.user_id, request.role))

    async def DeleteUser(self, request: pb.DeleteUserRequest, context: Ctx) -> pb.DeleteUserResponse:
        await self._org.remove_user(_caller(context), request.user_id)
        return pb.DeleteUserResponse(object="organization.user.deleted", id=request.user_id, deleted=True)
