import ServiceKit

/// The `billing` schema. Profiles follow the seed's `user_profiles`; the other tables record what Stripe told us.
enum BillingMigrations {
    static let all = [
        Migration(
            1,
            "profiles, subscriptions, Stripe events, subscription history, payments",
            [
                """
                CREATE TABLE billing.user_profiles (
                    user_id text PRIMARY KEY,
                    email text,
                    subscription_tier text NOT NULL DEFAULT 'starter'
                        CHECK (subscription_tier IN ('starter', 'professional', 'business', 'enterprise')),
                    subscription_status text NOT NULL DEFAULT 'inactive',
                    stripe_customer_id text UNIQUE,
                    stripe_subscription_id text,
                    subscription_current_period_end timestamptz,
                    monthly_scenario_limit integer,
                    monthly_ai_insights_limit integer,
                    monthly_transaction_volume_limit integer,
                    -- Stripe's timestamp of the subscription state last applied, so an older event never overwrites it.
                    subscription_state_at bigint NOT NULL DEFAULT 0,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX user_profiles_email ON billing.user_profiles (lower(email))",
                "CREATE INDEX user_profiles_created ON billing.user_profiles (created_at)",
                """
                CREATE TABLE billing.stripe_events (
                    event_id text PRIMARY KEY,
                    type text NOT NULL,
                    stripe_created bigint NOT NULL,
                    outcome text NOT NULL DEFAULT 'received',
                    received_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                """
                CREATE TABLE billing.user_subscriptions (
                    stripe_subscription_id text PRIMARY KEY,
                    user_id text NOT NULL REFERENCES billing.user_profiles (user_id),
                    stripe_customer_id text NOT NULL,
                    stripe_price_id text,
                    tier text NOT NULL,
                    status text NOT NULL,
                    unit_amount_cents bigint,
                    quantity integer NOT NULL DEFAULT 1,
                    currency text,
                    billing_interval text,
                    interval_count integer NOT NULL DEFAULT 1,
                    current_period_start timestamptz,
                    current_period_end timestamptz,
                    cancel_at_period_end boolean NOT NULL DEFAULT false,
                    stripe_state_at bigint NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now(),
                    updated_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX user_subscriptions_user ON billing.user_subscriptions (user_id)",
                """
                CREATE TABLE billing.subscription_events (
                    id bigserial PRIMARY KEY,
                    user_id text NOT NULL REFERENCES billing.user_profiles (user_id),
                    stripe_event_id text NOT NULL REFERENCES billing.stripe_events (event_id),
                    event_type text NOT NULL,
                    from_tier text NOT NULL,
                    to_tier text NOT NULL,
                    from_status text NOT NULL,
                    to_status text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX subscription_events_user ON billing.subscription_events (user_id, created_at)",
                """
                CREATE TABLE billing.payments (
                    invoice_id text PRIMARY KEY,
                    user_id text REFERENCES billing.user_profiles (user_id),
                    stripe_customer_id text,
                    stripe_subscription_id text,
                    amount_cents bigint NOT NULL CHECK (amount_cents >= 0),
                    currency text NOT NULL,
                    period_start timestamptz,
                    period_end timestamptz,
                    paid_at timestamptz NOT NULL,
                    stripe_event_id text NOT NULL REFERENCES billing.stripe_events (event_id)
                )
                """,
                "CREATE INDEX payments_paid_at ON billing.payments (paid_at DESC)",
            ]
        ),
        Migration(
            2,
            "roles and last sign-in, referral codes, partner levels, commissions",
            [
                "ALTER TABLE billing.user_profiles ADD COLUMN role text NOT NULL DEFAULT 'user'",
                "ALTER TABLE billing.user_profiles ADD COLUMN last_seen_at timestamptz",
                "ALTER TABLE billing.user_profiles ADD COLUMN referral_code text UNIQUE",
                "ALTER TABLE billing.user_profiles ADD COLUMN referred_by text REFERENCES billing.user_profiles (user_id)",
                """
                ALTER TABLE billing.user_profiles ADD COLUMN partner_level text NOT NULL DEFAULT 'member'
                    CHECK (partner_level IN ('member', 'reseller', 'pro_reseller'))
                """,
                "UPDATE billing.user_profiles SET referral_code = upper(substr(md5(user_id || clock_timestamp()::text), 1, 10)) WHERE referral_code IS NULL",
                """
                CREATE TABLE billing.commissions (
                    invoice_id text PRIMARY KEY REFERENCES billing.payments (invoice_id),
                    referrer_id text NOT NULL REFERENCES billing.user_profiles (user_id),
                    referred_user_id text NOT NULL REFERENCES billing.user_profiles (user_id),
                    referred_tier text NOT NULL,
                    partner_level text NOT NULL,
                    rate_percent integer NOT NULL,
                    payment_cents bigint NOT NULL,
                    commission_cents bigint NOT NULL CHECK (commission_cents >= 0),
                    currency text NOT NULL,
                    created_at timestamptz NOT NULL DEFAULT now()
                )
                """,
                "CREATE INDEX commissions_referrer ON billing.commissions (referrer_id)",
            ]
        ),
    ]
}
