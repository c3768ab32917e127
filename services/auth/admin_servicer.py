"""gRPC servicer for jan.v1.OrganizationService, the organization admin API in OpenAI's shapes (projects,
members, service accounts, API keys, admin keys, invites, the audit log): converts protos to domain calls and back
(convert.py). Identity comes from the x-jan-* metadata ext_authz set and signed, as for the sign-in RPCs
(servicer.py)."""

from __future__ import annotations

import grpc
from google.api import httpbody_pb2

from jan.v1 import organization_service_pb2 as pb
from jan.v1 import organization_service_pb2_grpc
from services.auth import convert
from services.auth.apikeys import ApiKeys
from services.auth.organization import Organization
from services.common.identity import Caller, caller_from_metadata


class OrganizationServicer(organization_service_pb2_grpc.OrganizationServiceServicer):
    def __init__(self, organization: Organization, api_keys: ApiKeys, identity_secret: bytes) -> None:
        self._org = organization
        self._keys = api_keys
        self._identity_secret = identity_secret

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        """Who is calling: the identity ext_authz set, if its signature holds (else nobody)."""
        return caller_from_metadata(context.invocation_metadata(), self._identity_secret)

    # -- audit log -----------------------------------------------------------------------------------
    async def ListAuditLogs(
        self, request: pb.ListAuditLogsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAuditLogsResponse:
        page = await self._org.list_audit_logs(
            self._caller(context), convert.audit_log_query(request), tenant_only=request.tenant_only
        )
        return convert.page(pb.ListAuditLogsResponse, page, convert.audit_log)

    async def ListAuditLogsJson(
        self, request: pb.ListAuditLogsJsonRequest, context: grpc.aio.ServicerContext
    ) -> httpbody_pb2.HttpBody:
        # The two requests share their fields and numbers: one is the other's bytes.
        native = pb.ListAuditLogsRequest.FromString(request.SerializeToString())
        return convert.audit_logs_json(await self.ListAuditLogs(native, context))

    # -- projects ------------------------------------------------------------------------------------
    async def ListProjects(
        self, request: pb.ListProjectsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectsResponse:
        page = await self._org.list_projects(
            self._caller(context), request.limit, request.after, request.include_archived
        )
        return convert.page(pb.ListProjectsResponse, page, convert.project)

    async def CreateProject(self, request: pb.CreateProjectRequest, context: grpc.aio.ServicerContext) -> pb.Project:
        return convert.project(await self._org.create_project(self._caller(context), request.name))

    async def GetProject(self, request: pb.GetProjectRequest, context: grpc.aio.ServicerContext) -> pb.Project:
        return convert.project(await self._org.get_project(self._caller(context), request.project_id))

    async def ModifyProject(self, request: pb.ModifyProjectRequest, context: grpc.aio.ServicerContext) -> pb.Project:
        return convert.project(await self._org.modify_project(self._caller(context), request.project_id, request.name))

    async def ArchiveProject(self, request: pb.ArchiveProjectRequest, context: grpc.aio.ServicerContext) -> pb.Project:
        return convert.project(await self._org.archive_project(self._caller(context), request.project_id))

    # -- project users -------------------------------------------------------------------------------
    async def ListProjectUsers(
        self, request: pb.ListProjectUsersRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectUsersResponse:
        page = await self._org.list_project_users(
            self._caller(context), request.project_id, request.limit, request.after
        )
        return convert.page(pb.ListProjectUsersResponse, page, convert.project_user)

    async def CreateProjectUser(
        self, request: pb.CreateProjectUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectUser:
        member = await self._org.add_project_user(
            self._caller(context),
            request.project_id,
            request.user_id,
            convert.optional_str(request, "email"),
            request.role,
        )
        return convert.project_user(member)

    async def GetProjectUser(
        self, request: pb.GetProjectUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectUser:
        member = await self._org.get_project_user(self._caller(context), request.project_id, request.user_id)
        return convert.project_user(member)

    async def ModifyProjectUser(
        self, request: pb.ModifyProjectUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectUser:
        member = await self._org.modify_project_user(
            self._caller(context), request.project_id, request.user_id, request.role
        )
        return convert.project_user(member)

    async def DeleteProjectUser(
        self, request: pb.DeleteProjectUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteProjectUserResponse:
        await self._org.remove_project_user(self._caller(context), request.project_id, request.user_id)
        return convert.project_user_deleted(request.user_id)

    # -- service accounts ----------------------------------------------------------------------------
    async def ListProjectServiceAccounts(
        self, request: pb.ListProjectServiceAccountsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectServiceAccountsResponse:
        page = await self._keys.list_service_accounts(
            self._caller(context), request.project_id, request.limit, request.after
        )
        return convert.page(pb.ListProjectServiceAccountsResponse, page, convert.service_account)

    async def CreateProjectServiceAccount(
        self, request: pb.CreateProjectServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.CreateProjectServiceAccountResponse:
        sa, key = await self._keys.create_service_account(
            self._caller(context), request.project_id, request.name, convert.optional_int(request, "expires_in_seconds")
        )
        return convert.service_account_created(sa, key)

    async def GetProjectServiceAccount(
        self, request: pb.GetProjectServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectServiceAccount:
        sa = await self._keys.get_service_account(self._caller(context), request.project_id, request.service_account_id)
        return convert.service_account(sa)

    async def ModifyProjectServiceAccount(
        self, request: pb.ModifyProjectServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectServiceAccount:
        sa = await self._keys.modify_service_account(
            self._caller(context),
            request.project_id,
            request.service_account_id,
            convert.optional_str(request, "name"),
            convert.optional_str(request, "role"),
        )
        return convert.service_account(sa)

    async def DeleteProjectServiceAccount(
        self, request: pb.DeleteProjectServiceAccountRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteProjectServiceAccountResponse:
        await self._keys.delete_service_account(self._caller(context), request.project_id, request.service_account_id)
        return convert.service_account_deleted(request.service_account_id)

    # -- project API keys ----------------------------------------------------------------------------
    async def ListProjectApiKeys(
        self, request: pb.ListProjectApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListProjectApiKeysResponse:
        page = await self._keys.list_project_keys(
            self._caller(context), request.project_id, request.limit, request.after
        )
        return convert.page(pb.ListProjectApiKeysResponse, page, convert.project_api_key)

    async def CreateProjectApiKey(
        self, request: pb.CreateProjectApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectApiKey:
        key = await self._keys.create_project_key(
            self._caller(context), request.project_id, request.name, convert.optional_int(request, "expires_in_seconds")
        )
        return convert.project_api_key(key)

    async def GetProjectApiKey(
        self, request: pb.GetProjectApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectApiKey:
        key = await self._keys.get_project_key(self._caller(context), request.project_id, request.api_key_id)
        return convert.project_api_key(key)

    async def ModifyProjectApiKey(
        self, request: pb.ModifyProjectApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.ProjectApiKey:
        key = await self._keys.modify_project_key(
            self._caller(context),
            request.project_id,
            request.api_key_id,
            convert.optional_int(request, "expires_in_seconds"),
        )
        return convert.project_api_key(key)

    async def DeleteProjectApiKey(
        self, request: pb.DeleteProjectApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteProjectApiKeyResponse:
        await self._keys.delete_project_key(self._caller(context), request.project_id, request.api_key_id)
        return convert.project_api_key_deleted(request.api_key_id)

    # -- admin API keys ------------------------------------------------------------------------------
    async def ListAdminApiKeys(
        self, request: pb.ListAdminApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListAdminApiKeysResponse:
        page = await self._keys.list_admin_keys(self._caller(context), request.limit, request.after, request.order)
        return convert.page(pb.ListAdminApiKeysResponse, page, convert.admin_api_key)

    async def CreateAdminApiKey(
        self, request: pb.CreateAdminApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.AdminApiKey:
        key = await self._keys.create_admin_key(
            self._caller(context), request.name, convert.optional_int(request, "expires_in_seconds")
        )
        return convert.admin_api_key(key)

    async def GetAdminApiKey(
        self, request: pb.GetAdminApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.AdminApiKey:
        return convert.admin_api_key(await self._keys.get_admin_key(self._caller(context), request.key_id))

    async def DeleteAdminApiKey(
        self, request: pb.DeleteAdminApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteAdminApiKeyResponse:
        await self._keys.delete_admin_key(self._caller(context), request.key_id)
        return convert.admin_api_key_deleted(request.key_id)

    # -- invites -------------------------------------------------------------------------------------
    async def ListInvites(
        self, request: pb.ListInvitesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListInvitesResponse:
        page = await self._org.list_invites(self._caller(context), request.limit, request.after)
        return convert.page(pb.ListInvitesResponse, page, convert.invite)

    async def CreateInvite(self, request: pb.CreateInviteRequest, context: grpc.aio.ServicerContext) -> pb.Invite:
        invite = await self._org.create_invite(
            self._caller(context), request.email, request.role, convert.invite_projects(request)
        )
        return convert.invite(invite)

    async def GetInvite(self, request: pb.GetInviteRequest, context: grpc.aio.ServicerContext) -> pb.Invite:
        return convert.invite(await self._org.get_invite(self._caller(context), request.invite_id))

    async def DeleteInvite(
        self, request: pb.DeleteInviteRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteInviteResponse:
        await self._org.delete_invite(self._caller(context), request.invite_id)
        return convert.invite_deleted(request.invite_id)

    # -- organization users --------------------------------------------------------------------------
    async def ListUsers(self, request: pb.ListUsersRequest, context: grpc.aio.ServicerContext) -> pb.ListUsersResponse:
        page = await self._org.list_users(self._caller(context), request.limit, request.after, list(request.emails))
        return convert.page(pb.ListUsersResponse, page, convert.org_user)

    async def GetUser(self, request: pb.GetUserRequest, context: grpc.aio.ServicerContext) -> pb.OrganizationUser:
        return convert.org_user(await self._org.get_user(self._caller(context), request.user_id))

    async def ModifyUser(self, request: pb.ModifyUserRequest, context: grpc.aio.ServicerContext) -> pb.OrganizationUser:
        return convert.org_user(await self._org.modify_user(self._caller(context), request.user_id, request.role))

    async def DeleteUser(
        self, request: pb.DeleteUserRequest, context: grpc.aio.ServicerContext
    ) -> pb.DeleteUserResponse:
        await self._org.remove_user(self._caller(context), request.user_id)
        return convert.user_deleted(request.user_id)
