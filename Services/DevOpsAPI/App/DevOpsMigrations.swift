import ServiceKit

/// The `devops` schema: API keys (hashes only) with their audit log, endpoint usage, and the module's webhook events.
enum DevOpsMigrations {
    static let all = [
        Migration(
            1,
            "API keys, key audit log, endpoint usage, deployments and alerts",
            [
                """
                CREATE TABLE devops.api_keys (
                    id uuid PRIMARY KEY,
                    key_sha256 text NOT NULL UNIQUE,
                    display_prefix text NOT NULL,
                    name text NOT NULL,
                    owner text NOT NULL,
                    permissions text[] NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    expires_at timestamptz NOT NULL,
                    revoked_at timestamptz,
                    usage_count bigint NOT NULL DEFAULT 0,
                    last_used_at timestamptz
                )
                """,
                """
                CREATE TABLE devops.key_audit_log (
                    id bigserial PRIMARY KEY,
                    key_id uuid NOT NULL REFERENCES devops.api_keys (id),
                    action text NOT NULL CHECK (action IN ('created', 'revoked')),
                    actor text NOT NULL,
                    details jsonb NOT NULL DEFAULT '{}',
                    at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE devops.endpoint_usage (
                    endpoint text PRIMARY KEY,
                    request_count bigint NOT NULL DEFAULT 0,
                    last_used_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE devops.events (
                    id bigserial PRIMARY KEY,
                    event_type text NOT NULL CHECK (event_type IN ('deployment', 'alert')),
                    key_id uuid,
                    environment text,
                    version text,
                    status text,
                    severity text,
                    message text,
                    payload jsonb NOT NULL,
                    occurred_at timestamptz NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now(),
                    resolved_at timestamptz
                )
                """,
                "CREATE INDEX events_type_time ON devops.events (event_type, received_at DESC)",
            ]
        ),
        Migration(
            2,
            "signatures of received webhooks, so a captured request cannot be replayed inside its 5 minutes",
            [
                """
                CREATE TABLE devops.webhook_signatures (
                    signature_sha256 text PRIMARY KEY,
                    event_id bigint NOT NULL,
                    expires_at timestamptz NOT NULL
                )
                """,
                "CREATE INDEX webhook_signatures_expiry ON devops.webhook_signatures (expires_at)",
            ]
        ),
        Migration(
            3,
            "alert severities on one ordered scale (0 info to 4 critical), whichever word the module used",
            [
                "ALTER TABLE devops.events ADD COLUMN severity_level smallint CHECK (severity_level BETWEEN 0 AND 4)",
                """
                UPDATE devops.events SET severity_level = CASE lower(severity)
                    WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'warning' THEN 2 WHEN 'medium' THEN 2
                    WHEN 'error' THEN 3 WHEN 'high' THEN 3 WHEN 'critical' THEN 4 END
                WHERE event_type = 'alert'
                """,
            ]
        ),
    ]
}
