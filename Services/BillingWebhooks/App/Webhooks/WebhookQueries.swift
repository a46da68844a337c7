import Foundation
import Logging
import PlanKit
import PostgresNIO

/// The SQL behind the Stripe billing webhook. Every function runs inside the event's transaction.
enum WebhookQueries {
    /// Records the event; false when it was recorded before (a redelivery), which then changes nothing.
    static func recordEvent(id: String, type: String, created: Int64, on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO billing.stripe_events (event_id, type, stripe_created) VALUES (\(id), \(type), \(created))
            ON CONFLICT (event_id) DO NOTHING RETURNING event_id
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    static func setOutcome(_ outcome: String, eventID: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("UPDATE billing.stripe_events SET outcome = \(outcome) WHERE event_id = \(eventID)", logger: logger)
    }

    static func stateAt(of userID: String, on connection: PostgresConnection, logger: Logger) async throws -> Int64 {
        let rows = try await connection.query("SELECT subscription_state_at FROM billing.user_profiles WHERE user_id = \(userID)", logger: logger)
        for try await value in rows.decode(Int64.self) { return value }
        return 0
    }

    /// Stores the subscription unless a newer state of it is stored already; true when it was stored.
    static func upsertSubscription(
        _ subscription: SubscriptionSnapshot,
        userID: String,
        status: String,
        eventCreated: Int64,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws -> Bool {
        let rows = try await connection.query(
            """
            INSERT INTO billing.user_subscriptions (
                stripe_subscription_id, user_id, stripe_customer_id, stripe_price_id, tier, status, unit_amount_cents, quantity,
                currency, billing_interval, interval_count, current_period_start, current_period_end, cancel_at_period_end, stripe_state_at
            ) VALUES (
                \(subscription.id), \(userID), \(subscription.customerID), \(subscription.priceID), \(subscription.tier.rawValue), \(status),
                \(subscription.unitAmountCents), \(subscription.quantity), \(subscription.currency), \(subscription.interval),
                \(subscription.intervalCount), to_timestamp(\(subscription.periodStart.map(Double.init))),
                to_timestamp(\(subscription.periodEnd.map(Double.init))), \(subscription.cancelAtPeriodEnd), \(eventCreated)
            )
            ON CONFLICT (stripe_subscription_id) DO UPDATE SET
                user_id = EXCLUDED.user_id, stripe_price_id = EXCLUDED.stripe_price_id, tier = EXCLUDED.tier, status = EXCLUDED.status,
                unit_amount_cents = EXCLUDED.unit_amount_cents, quantity = EXCLUDED.quantity, currency = EXCLUDED.currency,
                billing_interval = EXCLUDED.billing_interval, interval_count = EXCLUDED.interval_count,
                current_period_start = EXCLUDED.current_period_start, current_period_end = EXCLUDED.current_period_end,
                cancel_at_period_end = EXCLUDED.cancel_at_period_end, stripe_state_at = EXCLUDED.stripe_state_at, updated_at = now()
            WHERE billing.user_subscriptions.stripe_state_at <= EXCLUDED.stripe_state_at
            RETURNING stripe_subscription_id
            """,
            logger: logger
        )
        for try await _ in rows { return true }
        return false
    }

    /// Sets the profile's plan, its limits with it, and the Stripe stamp of the state it came from.
    static func updateProfile(
        userID: String,
        tier: Tier,
        status: String,
        customerID: String,
        subscriptionID: String,
        periodEnd: Int?,
        eventCreated: Int64,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        let limits = tier.limits
        try await connection.query(
            """
            UPDATE billing.user_profiles SET
                subscription_tier = \(tier.rawValue), subscription_status = \(status),
                stripe_customer_id = COALESCE(stripe_customer_id, \(customerID)), stripe_subscription_id = \(subscriptionID),
                subscription_current_period_end = to_timestamp(\(periodEnd.map(Double.init))),
                monthly_scenario_limit = \(limits.scenarios), monthly_ai_insights_limit = \(limits.aiInsights),
                monthly_transaction_volume_limit = \(limits.transactionVolume),
                subscription_state_at = \(eventCreated), updated_at = now()
            WHERE user_id = \(userID)
            """,
            logger: logger
        )
    }

    static func markPastDue(userID: String, subscriptionID: String?, eventCreated: Int64, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query(
            """
            UPDATE billing.user_profiles SET subscription_status = 'past_due', subscription_state_at = \(eventCreated), updated_at = now()
            WHERE user_id = \(userID)
            """,
            logger: logger
        )
        if let subscriptionID {
            try await connection.query(
                """
                UPDATE billing.user_subscriptions SET status = 'past_due', stripe_state_at = \(eventCreated), updated_at = now()
                WHERE stripe_subscription_id = \(subscriptionID) AND stripe_state_at <= \(eventCreated)
                """,
                logger: logger
            )
        }
    }

    static func appendHistory(
        userID: String,
        eventID: String,
        eventType: String,
        from: (tier: Tier, status: String),
        to: (tier: Tier, status: String),
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO billing.subscription_events (user_id, stripe_event_id, event_type, from_tier, to_tier, from_status, to_status)
            VALUES (\(userID), \(eventID), \(eventType), \(from.tier.rawValue), \(to.tier.rawValue), \(from.status), \(to.status))
            """,
            logger: logger
        )
    }

    static func recordPayment(
        invoiceID: String,
        userID: String,
        customerID: String?,
        subscriptionID: String?,
        amount: Money,
        period: (start: Int, end: Int)?,
        paidAt: Int64,
        eventID: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        try await connection.query(
            """
            INSERT INTO billing.payments (
                invoice_id, user_id, stripe_customer_id, stripe_subscription_id, amount_cents, currency, period_start, period_end, paid_at, stripe_event_id
            ) VALUES (
                \(invoiceID), \(userID), \(customerID), \(subscriptionID), \(amount.amountCents), \(amount.currency),
                to_timestamp(\(period.map { Double($0.start) })), to_timestamp(\(period.map { Double($0.end) })), to_timestamp(\(Double(paidAt))), \(eventID)
            )
            ON CONFLICT (invoice_id) DO NOTHING
            """,
            logger: logger
        )
    }
}
