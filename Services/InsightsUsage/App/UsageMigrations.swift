import ServiceKit

/// The `usage` schema: metered events, as the seed's `usage_events`, made idempotent per user; generated insights.
enum UsageMigrations {
    static let all = [
        Migration(
            1,
            "usage events",
            [
                """
                CREATE TABLE usage.usage_events (
                    id uuid PRIMARY KEY,
                    user_id text NOT NULL,
                    event_type text NOT NULL CHECK (event_type IN ('ai_insight', 'transaction_volume')),
                    stripe_connection_id text,
                    amount bigint NOT NULL CHECK (amount >= 0),
                    metadata jsonb NOT NULL DEFAULT '{}',
                    idempotency_key text NOT NULL,
                    payload_sha256 text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (user_id, idempotency_key)
                )
                """,
                "CREATE INDEX usage_events_user_time ON usage.usage_events (user_id, created_at)",
            ]
        ),
        Migration(
            2,
            "insights",
            [
                """
                CREATE TABLE usage.insights (
                    id uuid PRIMARY KEY,
                    user_id text NOT NULL,
                    connection_id uuid NOT NULL,
                    idempotency_key text,
                    engine text NOT NULL CHECK (engine IN ('builtin', 'openai')),
                    model text,
                    fallback_reason text,
                    narrative jsonb NOT NULL,
                    report jsonb NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    UNIQUE (user_id, idempotency_key)
                )
                """,
                "CREATE INDEX insights_history ON usage.insights (user_id, connection_id, created_at DESC)",
            ]
        ),
    ]
}
