"""Identity: the Cognito user pool of people and machine clients, and what the API trusts.

People are invited (no self sign-up), sign in through the pool's managed login (authorization
code with PKCE) from the web console's public client, and get their permissions from the
``viewers`` and ``editors`` groups. Machine clients use the client credentials grant at the
pool's token endpoint and get the ``items/read``/``items/write`` scopes of the ``items``
resource server they are granted. Group, scope and resource server names come from
``chalicelib.auth.permissions``, the names the API checks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from aws_cdk import Aws, Duration, Fn, RemovalPolicy
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from chalicelib.auth.permissions import GROUP_PERMISSIONS, PERMISSIONS, RESOURCE_SERVER, SCOPE_NAMES
from infrastructure.config import ApiClient
from infrastructure.nag import acknowledge

# Tokens live an hour (the console refreshes them before they expire); a refresh token a
# working day, after which a person signs in again.
TOKEN_VALIDITY = Duration.hours(1)
REFRESH_TOKEN_VALIDITY = Duration.hours(12)
# What the console asks the managed login for: sign-in only. Permissions come from groups.
CONSOLE_SCOPES = (cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE)


def domain_prefix(stage: str) -> str:
    """The user pool domain's prefix: unique per account, region and stage, known at synth
    time (so the console's CSP can name the domain without depending on the resource).
    Cognito refuses prefixes containing "aws", "amazon" or "cognito"."""
    return f"items-{stage}-{Aws.ACCOUNT_ID}"


def domain_url(stage: str) -> str:
    """The base URL of the managed login and the token endpoint."""
    return f"https://{domain_prefix(stage)}.auth.{Aws.REGION}.amazoncognito.com"


class Identity(Construct):
    """The user pool, its groups, scopes, domain, and one app client per API client.

    A pool that ``removal_policy`` keeps is kept with plain ``Retain``, like the tables: a
    deletion-protected pool cannot be deleted on the rollback of a failed create
    (``RetainExceptOnCreate`` would fail there), and its generated name lets a retry create a
    new one (the domain, which has a fixed prefix, is deleted on rollback).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage: str,
        console_url: str,
        clients: Sequence[ApiClient],
        removal_policy: RemovalPolicy,
        deletion_protection: bool,
    ) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            sign_in_case_sensitive=False,
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(3),
            ),
            mfa=cognito.Mfa.OPTIONAL,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            deletion_protection=deletion_protection,
            removal_policy=(
                RemovalPolicy.DESTROY
                if removal_policy == RemovalPolicy.DESTROY
                else RemovalPolicy.RETAIN
            ),
        )
        acknowledge(
            self.user_pool,
            {
                "AwsSolutions-COG2": "TOTP MFA is optional by requirement (issue 14): every "
                "person may enrol an authenticator; invitations and the password policy guard "
                "the rest",
                "AwsSolutions-COG3": "threat protection (advanced security) needs the Plus "
                "feature plan, a per-user cost this internal API does not carry",
                "AwsSolutions-COG8": "the Plus feature plan (threat protection) is a per-user "
                "cost; the Essentials plan serves invited people and machine clients",
            },
        )
        self.domain = self.user_pool.add_domain(
            "Domain",
            cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix(stage)),
        )
        self.domain_url = domain_url(stage)
        for group, permissions in GROUP_PERMISSIONS.items():
            cognito.CfnUserPoolGroup(
                self,
                f"{group.capitalize()}Group",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group,
                description="People who may " + " and ".join(sorted(permissions)),
            )
        self.resource_server = self.user_pool.add_resource_server(
            "ItemsResourceServer",
            identifier=RESOURCE_SERVER,
            user_pool_resource_server_name="Items API",
            scopes=[
                cognito.ResourceServerScope(
                    scope_name=SCOPE_NAMES[permission], scope_description=permission
                )
                for permission in PERMISSIONS
            ],
        )
        self.scopes = {
            permission: cognito.OAuthScope.resource_server(
                self.resource_server,
                cognito.ResourceServerScope(
                    scope_name=SCOPE_NAMES[permission], scope_description=permission
                ),
            )
            for permission in PERMISSIONS
        }
        #: The app client of each API client, by name.
        self.app_clients: dict[str, cognito.UserPoolClient] = {}
        for client in clients:
            if client.kind == "console":
                self.app_clients[client.name] = self._console_client(client.name, console_url)
            else:
                self.app_clients[client.name] = self._machine_client(client)

    @property
    def issuer(self) -> str:
        """The ``iss`` of the pool's tokens (ProviderURL has no scheme)."""
        return f"https://{self.user_pool.user_pool_provider_url}"

    def trusted_issuers(self) -> str:
        """``AUTH_TRUSTED_ISSUERS`` for the authorizer: this pool, for every app client."""
        client_ids = [client.user_pool_client_id for client in self.app_clients.values()]
        # A JSON document holding CloudFormation references: Fn::Join of its literal parts.
        placeholder = "__CLIENT_IDS__"
        document = json.dumps([{"issuer": "__ISSUER__", "client_ids": placeholder}])
        before, after = document.split(f'"{placeholder}"')
        head, tail = before.split("__ISSUER__")
        ids = Fn.join('", "', client_ids)
        return Fn.join("", [head, self.issuer, tail, '["', ids, '"]', after])

    def _console_client(self, name: str, console_url: str) -> cognito.UserPoolClient:
        return self.user_pool.add_client(
            "ConsoleClient",
            user_pool_client_name=name,
            generate_secret=False,  # a browser cannot keep a secret: PKCE instead
            auth_flows=cognito.AuthFlow(user_password=False, user_srp=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True),
                scopes=list(CONSOLE_SCOPES),
                callback_urls=[console_url],
                logout_urls=[console_url],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=TOKEN_VALIDITY,
            id_token_validity=TOKEN_VALIDITY,
            refresh_token_validity=REFRESH_TOKEN_VALIDITY,
        )

    def _machine_client(self, client: ApiClient) -> cognito.UserPoolClient:
        return self.user_pool.add_client(
            f"{_pascal(client.name)}Client",
            user_pool_client_name=client.name,
            generate_secret=True,
            auth_flows=cognito.AuthFlow(user_password=False, user_srp=False),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(client_credentials=True),
                scopes=[self.scopes[scope] for scope in client.scopes],
            ),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=TOKEN_VALIDITY,
        )


def _pascal(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("-"))
