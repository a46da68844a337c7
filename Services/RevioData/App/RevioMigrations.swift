import ServiceKit

/// The `revio` schema: the last good data set from Revio, and who looked at what.
enum RevioMigrations {
    static let all = [
        Migration(
            1,
            "dataset cache and access log",
            [
                """
                CREATE TABLE revio.dataset_cache (
                    cache_key text PRIMARY KEY,
                    dataset jsonb NOT NULL,
                    fetched_at timestamptz NOT NULL
                )
                """,
                """
                CREATE TABLE revio.access_log (
                    id bigserial PRIMARY KEY,
                    user_id text NOT NULL,
                    data_type text NOT NULL,
                    source text NOT NULL,
                    stale boolean NOT NULL,
                    accessed_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX access_log_time ON revio.access_log (accessed_at DESC)",
            ]
        )
    ]
}
