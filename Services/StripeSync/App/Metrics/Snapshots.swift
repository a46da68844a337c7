import Contracts
import Foundation
import Logging
import PostgresNIO
import RevenueMath
import ServiceKit
import StripeKit

/// Recomputes a connection's daily snapshots from its cached subscriptions and charges.
enum SnapshotBuilder {
    static let historyDays = 365

    static func rebuild(connectionID: UUID, account: String, postgres: PostgresClient, logger: Logger, today: Date = Date()) async throws {
        var subscriptions: [SubscriptionHistory] = []
        for try await (customer, status, currency, created, canceledAt, endedAt, cancelAtPeriodEnd, items, discounts) in try await postgres.query(
            """
            SELECT customer_id, status, coalesce(currency, 'usd'), created, canceled_at, ended_at, cancel_at_period_end, items::text, discounts::text
            FROM sync.subscriptions_cache WHERE account_id = \(account)
            """,
            logger: logger
        ).decode((String, String, String, Int64, Int64?, Int64?, Bool, String, String).self) {
            let decoded = (try? JSONDecoder().decode([SubscriptionItem].self, from: Data(items.utf8))) ?? []
            let applied = (try? JSONDecoder().decode([CouponDiscount].self, from: Data(discounts.utf8))) ?? []
            let snapshot = SubscriptionSnapshot(
                id: customer + "/" + String(created),
                customerID: customer,
                currency: currency,
                status: status,
                items: decoded.map {
                    .init(
                        unitAmountCents: Int64($0.price.unitAmount ?? 0),
                        quantity: $0.quantity ?? 1,
                        interval: $0.price.recurring?.interval.rawValue ?? "",
                        intervalCount: $0.price.recurring?.intervalCount ?? 1
                    )
                },
                discount: Self.discount(applied, now: today),
                cancelAtPeriodEnd: cancelAtPeriodEnd
            )
            let end = (endedAt ?? canceledAt).map { Date(timeIntervalSince1970: TimeInterval($0)) }
            subscriptions.append(SubscriptionHistory(current: snapshot, start: Date(timeIntervalSince1970: TimeInterval(created)), end: end))
        }
        var charges: [ChargeRecord] = []
        let since = Int64(today.timeIntervalSince1970) - Int64((historyDays + RevenueMath.windowDays + 1) * 86_400)
        for try await (created, amount, refunded, status, disputed, currency) in try await postgres.query(
            "SELECT created, amount, amount_refunded, status, disputed, currency FROM sync.charges_cache WHERE account_id = \(account) AND created >= \(since)",
            logger: logger
        ).decode((Int64, Int64, Int64, String, Bool, String).self) {
            charges.append(
                ChargeRecord(
                    created: Date(timeIntervalSince1970: TimeInterval(created)),
                    amountCents: amount,
                    refundedCents: refunded,
                    succeeded: status == "succeeded",
                    disputed: disputed,
                    currency: currency
                )
            )
        }
        let daily = try RevenueMath.dailyMetrics(subscriptions: subscriptions, charges: charges, today: today, count: historyDays)
        try await postgres.withTransaction(logger: logger) { connection in
            try await connection.query("DELETE FROM sync.metrics_snapshots WHERE connection_id = \(connectionID)", logger: logger)
            for (day, currency, metrics) in daily {
                let m = metrics
                try await connection.query(
                    """
                    INSERT INTO sync.metrics_snapshots (
                        connection_id, currency, day, mrr, arr, total_revenue, total_customers, active_subscriptions, arpu, ltv,
                        customer_churn_rate, revenue_churn_rate, net_revenue_churn_rate, new_mrr, expansion_mrr, contraction_mrr, churned_mrr,
                        reactivation_mrr, payment_success_rate, dispute_rate, subscription_growth_rate
                    ) VALUES (
                        \(connectionID), \(currency), (\(day)::timestamptz AT TIME ZONE 'UTC')::date, \(m.mrr.text)::numeric, \(m.arr.text)::numeric,
                        \(m.totalRevenueCents), \(m.totalCustomers), \(m.activeSubscriptions), \(m.arpu?.text)::numeric, \(m.ltv?.text)::numeric,
                        \(m.customerChurnRate?.text)::numeric, \(m.revenueChurnRate?.text)::numeric, \(m.netRevenueChurnRate?.text)::numeric,
                        \(m.movements.new.text)::numeric, \(m.movements.expansion.text)::numeric, \(m.movements.contraction.text)::numeric,
                        \(m.movements.churned.text)::numeric, \(m.movements.reactivation.text)::numeric, \(m.paymentSuccessRate?.text)::numeric,
                        \(m.disputeRate?.text)::numeric, \(m.subscriptionGrowthRate?.text)::numeric
                    )
                    """,
                    logger: logger
                )
            }
        }
    }
}

extension SnapshotBuilder {
    /// The discount MRR reads: the first one still running. (Stacked discounts are rare; the first is Stripe's
    /// primary one.)
    static func discount(_ discounts: [CouponDiscount], now: Date) -> Discount? {
        let now = Int(now.timeIntervalSince1970)
        guard let running = discounts.first(where: { ($0.end ?? .max) > now }) else { return nil }
        let duration: Discount.Duration =
            switch running.coupon.duration {
            case .forever: .forever
            case .once: .once
            default: .repeating
            }
        return Discount(percentOff: running.coupon.percentOff, amountOffCents: running.coupon.amountOff.map(Int64.init), duration: duration)
    }
}

extension Decimal {
    /// Decimals travel to Postgres `numeric` as text, so no digit is lost.
    var text: String { NSDecimalNumber(decimal: self).stringValue }
}
