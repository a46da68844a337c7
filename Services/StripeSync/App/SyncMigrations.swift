import ServiceKit

/// The `sync` schema: Connect connections (tokens encrypted), OAuth states, and the sync job queue.
enum SyncMigrations {
    static let all = [
        Migration(
            1,
            "connections, OAuth states, sync jobs",
            [
                """
                CREATE TABLE sync.stripe_connections (
                    id uuid PRIMARY KEY,
                    user_id text NOT NULL,
                    stripe_account_id text NOT NULL UNIQUE,
                    business_name text,
                    default_currency text,
                    access_token_ciphertext text NOT NULL,
                    refresh_token_ciphertext text,
                    token_key_id text NOT NULL,
                    scope text,
                    livemode boolean NOT NULL DEFAULT false,
                    active boolean NOT NULL DEFAULT true,
                    sync_status text NOT NULL DEFAULT 'pending',
                    last_synced_at timestamptz,
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX stripe_connections_user ON sync.stripe_connections (user_id) WHERE active",
                """
                CREATE TABLE sync.oauth_states (
                    nonce text PRIMARY KEY,
                    user_id text NOT NULL,
                    expires_at timestamptz NOT NULL,
                    used_at timestamptz
                )
                """,
                """
                CREATE TABLE sync.sync_jobs (
                    id uuid PRIMARY KEY,
                    connection_id uuid NOT NULL REFERENCES sync.stripe_connections (id) ON DELETE CASCADE,
                    kind text NOT NULL CHECK (kind IN ('full', 'incremental')),
                    status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed')),
                    attempts integer NOT NULL DEFAULT 0,
                    run_after timestamptz NOT NULL DEFAULT now(),
                    leased_by text,
                    lease_until timestamptz,
                    last_error text,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    finished_at timestamptz
                )
                """,
                // At most one pending job per connection: queueing again while one waits or runs changes nothing.
                "CREATE UNIQUE INDEX sync_jobs_one_pending ON sync.sync_jobs (connection_id) WHERE status IN ('queued', 'running')",
            ]
        ),
        Migration(
            2,
            "cached Stripe objects of connected accounts",
            [
                """
                CREATE TABLE sync.customers_cache (
                    account_id text NOT NULL, id text NOT NULL, email text, name text, currency text, created bigint NOT NULL,
                    deleted boolean NOT NULL DEFAULT false, synced_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, id)
                )
                """,
                """
                CREATE TABLE sync.subscriptions_cache (
                    account_id text NOT NULL, id text NOT NULL, customer_id text NOT NULL, status text NOT NULL, currency text,
                    created bigint NOT NULL, canceled_at bigint, ended_at bigint, cancel_at_period_end boolean NOT NULL,
                    current_period_start bigint, current_period_end bigint, items jsonb NOT NULL, synced_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, id)
                )
                """,
                """
                CREATE TABLE sync.invoices_cache (
                    account_id text NOT NULL, id text NOT NULL, customer_id text, subscription_id text, status text, currency text NOT NULL,
                    amount_due bigint NOT NULL, amount_paid bigint NOT NULL, created bigint NOT NULL, lines jsonb NOT NULL,
                    synced_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, id)
                )
                """,
                """
                CREATE TABLE sync.charges_cache (
                    account_id text NOT NULL, id text NOT NULL, customer_id text, invoice_id text, status text NOT NULL, currency text NOT NULL,
                    amount bigint NOT NULL, amount_refunded bigint NOT NULL, created bigint NOT NULL, disputed boolean NOT NULL DEFAULT false,
                    dispute_id text, refunds jsonb NOT NULL, synced_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, id)
                )
                """,
            ]
        ),
        Migration(
            3,
            "daily metrics snapshots",
            [
                """
                CREATE TABLE sync.metrics_snapshots (
                    connection_id uuid NOT NULL REFERENCES sync.stripe_connections (id) ON DELETE CASCADE,
                    currency text NOT NULL,
                    day date NOT NULL,
                    mrr numeric NOT NULL, arr numeric NOT NULL, total_revenue bigint NOT NULL, total_customers integer NOT NULL,
                    active_subscriptions integer NOT NULL, arpu numeric, ltv numeric, customer_churn_rate numeric, revenue_churn_rate numeric,
                    net_revenue_churn_rate numeric, new_mrr numeric NOT NULL, expansion_mrr numeric NOT NULL, contraction_mrr numeric NOT NULL,
                    churned_mrr numeric NOT NULL, reactivation_mrr numeric NOT NULL, payment_success_rate numeric, dispute_rate numeric,
                    subscription_growth_rate numeric, computed_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (connection_id, currency, day)
                )
                """
            ]
        ),
        Migration(
            4,
            "transaction volume reported to insights-usage",
            [
                """
                CREATE TABLE sync.usage_reports (
                    connection_id uuid NOT NULL REFERENCES sync.stripe_connections (id) ON DELETE CASCADE,
                    month text NOT NULL,
                    reported bigint NOT NULL,
                    PRIMARY KEY (connection_id, month)
                )
                """
            ]
        ),
        Migration(5, "subscription discounts", ["ALTER TABLE sync.subscriptions_cache ADD COLUMN discounts jsonb NOT NULL DEFAULT '[]'"]),
        Migration(
            6,
            "resumable syncs and the event mark of incremental ones",
            [
                "ALTER TABLE sync.sync_jobs ADD COLUMN cursor jsonb",
                "ALTER TABLE sync.stripe_connections ADD COLUMN last_event_id text, ADD COLUMN last_event_at bigint",
            ]
        ),
        Migration(7, "subscription trial ends", ["ALTER TABLE sync.subscriptions_cache ADD COLUMN trial_end bigint"]),
        Migration(
            8,
            "subscription items as each sync saw them",
            [
                """
                CREATE TABLE sync.subscription_states (
                    account_id text NOT NULL, subscription_id text NOT NULL, observed_at bigint NOT NULL, items jsonb NOT NULL,
                    PRIMARY KEY (account_id, subscription_id, observed_at)
                )
                """
            ]
        ),
        Migration(
            9,
            "each connection's metric settings (METRICS.md's named choices)",
            ["ALTER TABLE sync.stripe_connections ADD COLUMN metric_settings jsonb NOT NULL DEFAULT '{}'"]
        ),
        Migration(10, "charges' captured amounts", ["ALTER TABLE sync.charges_cache ADD COLUMN amount_captured bigint"]),
        Migration(
            11,
            "prices read whole: those invoices name only by id (an old plan), and tiered ones",
            [
                """
                CREATE TABLE sync.prices_cache (
                    account_id text NOT NULL, id text NOT NULL, price jsonb NOT NULL, fetched_at timestamptz NOT NULL DEFAULT now(),
                    PRIMARY KEY (account_id, id)
                )
                """
            ]
        ),
        Migration(
            12,
            "discounts over time: customers' own, and every discount each sync saw on a subscription",
            [
                "ALTER TABLE sync.customers_cache ADD COLUMN discount jsonb",
                "ALTER TABLE sync.subscription_states ADD COLUMN discounts jsonb NOT NULL DEFAULT '[]'",
            ]
        ),
        Migration(13, "the status each sync saw a subscription in", ["ALTER TABLE sync.subscription_states ADD COLUMN status text"]),
        Migration(
            14,
            "subscription statuses as the account's events showed them, one row per event",
            [
                """
                CREATE TABLE sync.subscription_status_changes (
                    account_id text NOT NULL, event_id text NOT NULL, subscription_id text NOT NULL, at bigint NOT NULL,
                    status text NOT NULL, previous_status text,
                    PRIMARY KEY (account_id, event_id)
                )
                """
            ]
        ),
        Migration(
            15,
            "Connect webhooks: each event once, the newest event applied to each object, connections whose metrics wait for a refresh",
            [
                """
                CREATE TABLE sync.connect_events (
                    event_id text PRIMARY KEY, account_id text NOT NULL, type text NOT NULL, created bigint NOT NULL, outcome text NOT NULL,
                    received_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE sync.object_versions (
                    account_id text NOT NULL, object_id text NOT NULL, event_created bigint NOT NULL,
                    PRIMARY KEY (account_id, object_id)
                )
                """,
                """
                ALTER TABLE sync.stripe_connections ADD COLUMN metrics_dirty_from bigint, ADD COLUMN metrics_dirty_at timestamptz,
                    ADD COLUMN metrics_refreshing_until timestamptz, ADD COLUMN metrics_refreshed_at timestamptz,
                    ADD COLUMN metrics_refreshes bigint NOT NULL DEFAULT 0
                """,
                "CREATE INDEX stripe_connections_dirty ON sync.stripe_connections (metrics_dirty_at) WHERE metrics_dirty_at IS NOT NULL",
            ]
        ),
    ]
}
