"""Who may call which API: tokens with roles, shared by every service and client of one stack.

    $CLARA_HOME/credentials.yaml (0600, written at the first start: `credentials`)
        |  tokens: admin (the `clara` CLI), services (one service calling another), operators
        v
    TokenTable (`tokens`): sha256(token) -> Principal(name, Role)     + trusted client networks
        |   else, optional: the hospital IdP's JWT (`oidc.OidcVerifier`, keys from `jwks.KeySet`)
        |   `TokenTable.authenticate`: the one place a presented token becomes a caller
        v                                  v
    gRPC: `grpc_server.AuthInterceptor`    REST: `rest.TokenGate` (ASGI, before every route)
        |  per method: the least Role         |  per route: the least Role
        v                                  v
    every refused or state-changing call -> `audit.AuditLog` (JSON lines, 0600)

Clients find their token in `CLARA_API_TOKEN`, else in the credentials file (`credentials.client_token`);
`grpc_client` adds it to every gRPC call, REST clients send `Authorization: Bearer <token>`.
"""
