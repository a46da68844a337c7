import ServiceKit

/// The `devops` schema: API keys (hashes only) with their audit log, endpoint usage, the module's webhook events, and
/// the monitored outside systems (credentials sealed) with their checks, samples and incidents.
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
        Migration(
            4,
            "monitored integrations, their check runs, hourly samples with daily rollups, and incidents",
            [
                """
                CREATE TABLE devops.integrations (
                    id uuid PRIMARY KEY,
                    kind text NOT NULL,
                    name text NOT NULL UNIQUE,
                    base_url text NOT NULL,
                    credentials_key_id text NOT NULL,
                    credentials_sealed text NOT NULL,
                    config jsonb NOT NULL DEFAULT '{}',
                    poll_seconds integer NOT NULL CHECK (poll_seconds BETWEEN 300 AND 900),
                    enabled boolean NOT NULL DEFAULT true,
                    created_by text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now(),
                    next_check_at timestamptz NOT NULL DEFAULT now(),
                    leased_by text,
                    lease_until timestamptz,
                    health text NOT NULL DEFAULT 'unknown' CHECK (health IN ('healthy', 'degraded', 'unhealthy', 'unknown')),
                    health_since timestamptz NOT NULL DEFAULT now(),
                    consecutive_failures integer NOT NULL DEFAULT 0,
                    consecutive_successes integer NOT NULL DEFAULT 0,
                    last_checked_at timestamptz,
                    last_outcome text,
                    summary jsonb,
                    summary_at timestamptz
                )
                """,
                "CREATE INDEX integrations_due ON devops.integrations (next_check_at) WHERE enabled",
                """
                CREATE TABLE devops.check_runs (
                    id bigserial PRIMARY KEY,
                    integration_id uuid NOT NULL REFERENCES devops.integrations (id) ON DELETE CASCADE,
                    worker text NOT NULL,
                    started_at timestamptz NOT NULL,
                    finished_at timestamptz NOT NULL DEFAULT now(),
                    outcome text NOT NULL CHECK (outcome IN ('ok', 'rate_limited', 'auth_failed', 'failed')),
                    status_code integer,
                    latency_ms integer NOT NULL,
                    calls integer NOT NULL,
                    retries integer NOT NULL,
                    error text
                )
                """,
                "CREATE INDEX check_runs_recent ON devops.check_runs (integration_id, started_at DESC)",
                """
                CREATE TABLE devops.metric_samples (
                    integration_id uuid NOT NULL REFERENCES devops.integrations (id) ON DELETE CASCADE,
                    metric text NOT NULL,
                    dimensions jsonb NOT NULL DEFAULT '{}',
                    bucket_start timestamptz NOT NULL,
                    kind text NOT NULL CHECK (kind IN ('counter', 'gauge')),
                    value numeric NOT NULL,
                    collected_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (integration_id, metric, bucket_start, dimensions)
                )
                """,
                "CREATE INDEX metric_samples_age ON devops.metric_samples (bucket_start)",
                """
                CREATE TABLE devops.metric_daily (
                    integration_id uuid NOT NULL REFERENCES devops.integrations (id) ON DELETE CASCADE,
                    metric text NOT NULL,
                    dimensions jsonb NOT NULL DEFAULT '{}',
                    day date NOT NULL,
                    kind text NOT NULL CHECK (kind IN ('counter', 'gauge')),
                    value numeric NOT NULL,
                    PRIMARY KEY (integration_id, metric, day, dimensions)
                )
                """,
                """
                CREATE TABLE devops.incidents (
                    id uuid PRIMARY KEY,
                    integration_id uuid NOT NULL REFERENCES devops.integrations (id) ON DELETE CASCADE,
                    reason text NOT NULL CHECK (reason IN ('auth_failed', 'failed')),
                    message text NOT NULL,
                    opened_at timestamptz NOT NULL DEFAULT now(),
                    resolved_at timestamptz,
                    alert_event_id bigint NOT NULL
                )
                """,
                "CREATE UNIQUE INDEX incidents_one_open ON devops.incidents (integration_id) WHERE resolved_at IS NULL",
                "CREATE INDEX incidents_recent ON devops.incidents (opened_at DESC)",
            ]
        ),
        Migration(
            5,
            "Google Cloud budget notifications, the latest of each budget",
            [
                """
                CREATE TABLE devops.gcp_budgets (
                    budget_id text PRIMARY KEY,
                    billing_account_id text NOT NULL,
                    display_name text NOT NULL,
                    currency text NOT NULL,
                    cost_cents bigint NOT NULL,
                    budget_cents bigint NOT NULL,
                    threshold_exceeded numeric,
                    cost_interval_start timestamptz NOT NULL,
                    message_id text NOT NULL,
                    published_at timestamptz NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now()
                )
                """
            ]
        ),
    ]
}
