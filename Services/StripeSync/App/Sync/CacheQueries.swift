import Foundation
import Logging
import PostgresNIO
import RevenueMath
import StripeKit

/// Writes a page of Stripe objects in one statement each: every column is bound as an array and unnested, so a
/// page of 100 objects is one round trip and no value is ever spliced into SQL.
enum CacheQueries {
    /// PostgresNIO binds arrays of non-optional values: an absent value travels as '' and `NULLIF` turns it back.
    static func text(_ values: [String?]) -> [String] { values.map { $0 ?? "" } }
    static func text(_ values: [Int?]) -> [String] { values.map { $0.map(String.init) ?? "" } }

    static func json(_ value: some Encodable) -> String { String(decoding: (try? JSONEncoder().encode(value)) ?? Data("null".utf8), as: UTF8.self) }

    static func upsert(_ customers: [Customer], account: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !customers.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sync.customers_cache (account_id, id, email, name, currency, created, deleted, discount)
            SELECT \(account), id, NULLIF(email, ''), NULLIF(name, ''), NULLIF(currency, ''), created, deleted, NULLIF(discount, 'null')::jsonb
            FROM unnest(\(customers.map(\.id))::text[], \(text(customers.map(\.email)))::text[], \(text(customers.map(\.name)))::text[],
                \(text(customers.map(\.currency)))::text[], \(customers.map { Int64($0.created) })::bigint[], \(customers.map { $0.deleted ?? false })::boolean[],
                \(customers.map { json($0.discount) })::text[])
                AS c(id, email, name, currency, created, deleted, discount)
            ON CONFLICT (account_id, id) DO UPDATE SET email = EXCLUDED.email, name = EXCLUDED.name, currency = EXCLUDED.currency,
                created = EXCLUDED.created, deleted = EXCLUDED.deleted, discount = EXCLUDED.discount, synced_at = now()
            """,
            logger: logger
        )
    }

    static func upsert(_ subscriptions: [Subscription], account: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !subscriptions.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sync.subscriptions_cache (
                account_id, id, customer_id, status, currency, created, canceled_at, ended_at, cancel_at_period_end,
                current_period_start, current_period_end, items, discounts, trial_end
            )
            SELECT \(account), id, customer_id, status, NULLIF(currency, ''), created, NULLIF(canceled_at, '')::bigint, NULLIF(ended_at, '')::bigint,
                cancel_at_period_end, NULLIF(period_start, '')::bigint, NULLIF(period_end, '')::bigint, items::jsonb, discounts::jsonb,
                NULLIF(trial_end, '')::bigint
            FROM unnest(
                \(subscriptions.map(\.id))::text[], \(subscriptions.map(\.customer.id))::text[], \(subscriptions.map(\.status.rawValue))::text[],
                \(text(subscriptions.map(\.currency)))::text[], \(subscriptions.map { Int64($0.created) })::bigint[],
                \(text(subscriptions.map(\.canceledAt)))::text[], \(text(subscriptions.map(\.endedAt)))::text[],
                \(subscriptions.map { $0.cancelAtPeriodEnd ?? false })::boolean[], \(text(subscriptions.map(\.periodStart)))::text[],
                \(text(subscriptions.map(\.periodEnd)))::text[], \(subscriptions.map { json($0.items.data) })::text[],
                \(subscriptions.map { json(($0.discounts ?? []).compactMap(\.object)) })::text[], \(text(subscriptions.map(\.trialEnd)))::text[]
            ) AS s(id, customer_id, status, currency, created, canceled_at, ended_at, cancel_at_period_end, period_start, period_end, items, discounts, trial_end)
            ON CONFLICT (account_id, id) DO UPDATE SET customer_id = EXCLUDED.customer_id, status = EXCLUDED.status, currency = EXCLUDED.currency,
                created = EXCLUDED.created, canceled_at = EXCLUDED.canceled_at, ended_at = EXCLUDED.ended_at,
                cancel_at_period_end = EXCLUDED.cancel_at_period_end, current_period_start = EXCLUDED.current_period_start,
                current_period_end = EXCLUDED.current_period_end, items = EXCLUDED.items, discounts = EXCLUDED.discounts,
                trial_end = EXCLUDED.trial_end, synced_at = now()
            """,
            logger: logger
        )
    }

    static func upsert(_ invoices: [Invoice], account: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !invoices.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sync.invoices_cache (account_id, id, customer_id, subscription_id, status, currency, amount_due, amount_paid, created, lines)
            SELECT \(account), id, NULLIF(customer_id, ''), NULLIF(subscription_id, ''), NULLIF(status, ''), currency, amount_due, amount_paid, created,
                lines::jsonb
            FROM unnest(
                \(invoices.map(\.id))::text[], \(text(invoices.map { $0.customer?.id }))::text[], \(text(invoices.map(\.subscriptionID)))::text[],
                \(text(invoices.map { $0.status?.rawValue }))::text[], \(invoices.map(\.currency))::text[], \(invoices.map { Int64($0.amountDue) })::bigint[],
                \(invoices.map { Int64($0.amountPaid) })::bigint[], \(invoices.map { Int64($0.created) })::bigint[], \(invoices.map { json($0.lines.data) })::text[]
            ) AS i(id, customer_id, subscription_id, status, currency, amount_due, amount_paid, created, lines)
            ON CONFLICT (account_id, id) DO UPDATE SET customer_id = EXCLUDED.customer_id, subscription_id = EXCLUDED.subscription_id,
                status = EXCLUDED.status, currency = EXCLUDED.currency, amount_due = EXCLUDED.amount_due, amount_paid = EXCLUDED.amount_paid,
                created = EXCLUDED.created, lines = EXCLUDED.lines, synced_at = now()
            """,
            logger: logger
        )
    }

    static func upsert(_ charges: [Charge], account: String, on connection: PostgresConnection, logger: Logger) async throws {
        guard !charges.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sync.charges_cache (
                account_id, id, customer_id, invoice_id, status, currency, amount, amount_refunded, created, disputed, dispute_id, refunds,
                amount_captured
            )
            SELECT \(account), id, NULLIF(customer_id, ''), NULLIF(invoice_id, ''), status, currency, amount, amount_refunded, created, disputed,
                NULLIF(dispute_id, ''), refunds::jsonb, NULLIF(amount_captured, '')::bigint
            FROM unnest(
                \(charges.map(\.id))::text[], \(text(charges.map { $0.customer?.id }))::text[], \(text(charges.map { $0.invoice?.id }))::text[],
                \(charges.map(\.status.rawValue))::text[], \(charges.map(\.currency))::text[], \(charges.map { Int64($0.amount) })::bigint[],
                \(charges.map { Int64($0.amountRefunded) })::bigint[], \(charges.map { Int64($0.created) })::bigint[],
                \(charges.map { $0.disputed ?? false })::boolean[], \(text(charges.map { $0.dispute?.id }))::text[],
                \(charges.map { json($0.refunds?.data ?? []) })::text[], \(text(charges.map(\.amountCaptured)))::text[]
            ) AS c(id, customer_id, invoice_id, status, currency, amount, amount_refunded, created, disputed, dispute_id, refunds, amount_captured)
            ON CONFLICT (account_id, id) DO UPDATE SET customer_id = EXCLUDED.customer_id, invoice_id = EXCLUDED.invoice_id,
                status = EXCLUDED.status, currency = EXCLUDED.currency, amount = EXCLUDED.amount, amount_refunded = EXCLUDED.amount_refunded,
                created = EXCLUDED.created, disputed = EXCLUDED.disputed, dispute_id = EXCLUDED.dispute_id, refunds = EXCLUDED.refunds,
                amount_captured = EXCLUDED.amount_captured, synced_at = now()
            """,
            logger: logger
        )
    }

    /// One row per event, so an event read twice (by a sync and a webhook, or two syncs) is stored once.
    static func insert(
        _ changes: [(subscription: String, event: String, change: StatusChange)],
        account: String,
        on connection: PostgresConnection,
        logger: Logger
    ) async throws {
        guard !changes.isEmpty else { return }
        try await connection.query(
            """
            INSERT INTO sync.subscription_status_changes (account_id, event_id, subscription_id, at, status, previous_status)
            SELECT \(account), event_id, subscription_id, at, status, NULLIF(previous_status, '')
            FROM unnest(\(changes.map(\.event))::text[], \(changes.map(\.subscription))::text[],
                \(changes.map { Int64($0.change.at.timeIntervalSince1970) })::bigint[], \(changes.map(\.change.status))::text[],
                \(text(changes.map(\.change.previous)))::text[]) AS c(event_id, subscription_id, at, status, previous_status)
            ON CONFLICT (account_id, event_id) DO NOTHING
            """,
            logger: logger
        )
    }
}
