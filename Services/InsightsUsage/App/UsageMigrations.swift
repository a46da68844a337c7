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
        Migration(
            3,
            "product analytics events, partitioned by month, with the daily salts that hash anonymous visitors",
            [
                """
                CREATE TABLE usage.analytics_events (
                    uuid uuid NOT NULL,
                    person text NOT NULL,
                    event text NOT NULL,
                    occurred_at timestamptz NOT NULL,
                    properties jsonb NOT NULL DEFAULT '{}',
                    browser text,
                    country text,
                    received_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (uuid, occurred_at)
                ) PARTITION BY RANGE (occurred_at)
                """,
                "CREATE INDEX analytics_events_time ON usage.analytics_events (occurred_at, event)",
                "CREATE INDEX analytics_events_person ON usage.analytics_events (person, occurred_at)",
                // A partitioned table's unique keys must hold the partition key; a retried event may carry another time.
                """
                CREATE TABLE usage.analytics_event_ids (
                    uuid uuid PRIMARY KEY,
                    received_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX analytics_event_ids_age ON usage.analytics_event_ids (received_at)",
                """
                CREATE TABLE usage.analytics_salts (
                    day date PRIMARY KEY,
                    salt bytea NOT NULL
                )
                """,
                """
                CREATE TABLE usage.activity_announcements (
                    id integer PRIMARY KEY CHECK (id = 1),
                    announced_at timestamptz NOT NULL
                )
                """,
                "INSERT INTO usage.activity_announcements VALUES (1, '-infinity')",
                """
                CREATE TABLE usage.analytics_erasures (
                    id bigserial PRIMARY KEY,
                    person_sha256 text NOT NULL,
                    requested_by text NOT NULL,
                    events_removed bigint NOT NULL,
                    at timestamptz NOT NULL DEFAULT now()
                )
                """,
            ]
        ),
        Migration(
            4,
            "daily analytics rollups, kept after raw events are dropped, and the days whose rollups are stale",
            [
                """
                CREATE TABLE usage.analytics_daily (
                    day date NOT NULL,
                    event text NOT NULL,
                    detail text NOT NULL DEFAULT '',
                    events bigint NOT NULL,
                    people bigint NOT NULL,
                    PRIMARY KEY (day, event, detail)
                )
                """,
                "CREATE TABLE usage.analytics_stale_days (day date PRIMARY KEY)",
            ]
        ),
    ]
}
