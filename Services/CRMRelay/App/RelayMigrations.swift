import ServiceKit

/// The `crm` schema: the outbox every accepted event is written to, and the log of every delivery attempt.
enum RelayMigrations {
    static let all = [
        Migration(
            1,
            "outbox and delivery attempts",
            [
                """
                CREATE TABLE crm.outbox (
                    event_id uuid PRIMARY KEY,
                    kind text NOT NULL CHECK (kind IN ('customer-registration', 'repair-request')),
                    payload jsonb NOT NULL,
                    idempotency_key text UNIQUE,
                    payload_sha256 text NOT NULL,
                    is_test boolean NOT NULL DEFAULT false,
                    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'retrying', 'delivering', 'delivered', 'failed')),
                    attempts integer NOT NULL DEFAULT 0,
                    next_attempt_at timestamptz NOT NULL DEFAULT now(),
                    leased_by text,
                    lease_until timestamptz,
                    last_status integer,
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    delivered_at timestamptz,
                    failed_at timestamptz,
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX outbox_due ON crm.outbox (next_attempt_at) WHERE status IN ('queued', 'retrying')",
                "CREATE INDEX outbox_leases ON crm.outbox (lease_until) WHERE status = 'delivering'",
                "CREATE INDEX outbox_status ON crm.outbox (status, created_at)",
                """
                CREATE TABLE crm.delivery_attempts (
                    id bigserial PRIMARY KEY,
                    event_id uuid NOT NULL REFERENCES crm.outbox (event_id),
                    attempt integer NOT NULL,
                    attempted_at timestamptz NOT NULL,
                    http_status integer,
                    latency_ms integer NOT NULL,
                    error text,
                    response_excerpt text
                )
                """,
                "CREATE INDEX delivery_attempts_event ON crm.delivery_attempts (event_id, attempt)",
            ]
        )
    ]
}
