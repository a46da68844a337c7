import Contracts
import Foundation
import Hummingbird
import Logging
import PlanKit
import PostgresNIO

extension PlatformStats: ResponseCodable {}

enum StatsQueries {
    static func platformStats(recentDays: Int, postgres: PostgresClient, logger: Logger) async throws -> PlatformStats {
        try await postgres.withConnection { connection in
            var byTier: [String: Int] = [:]
            var byStatus: [String: Int] = [:]
            var total = 0
            let groups = try await connection.query(
                "SELECT subscription_tier, subscription_status, count(*)::int FROM billing.user_profiles GROUP BY 1, 2",
                logger: logger
            )
            for try await (tier, status, count) in groups.decode((String, String, Int).self) {
                byTier[tier, default: 0] += count
                byStatus[status, default: 0] += count
                total += count
            }
            var byRole: [String: Int] = [:]
            var active = 0
            for try await (role, isActive, count) in try await connection.query(
                """
                SELECT CASE WHEN role = 'admin' THEN 'admin' ELSE partner_level END, COALESCE(last_seen_at > now() - interval '30 days', false),
                    count(*)::int
                FROM billing.user_profiles GROUP BY 1, 2
                """,
                logger: logger
            ).decode((String, Bool, Int).self) {
                byRole[role, default: 0] += count
                if isActive { active += count }
            }
            var totalRevenue: [String: Int64] = [:]
            var subscriptionRevenue: [String: Int64] = [:]
            for try await (currency, total, fromSubscriptions) in try await connection.query(
                """
                SELECT currency, sum(amount_cents)::bigint, COALESCE(sum(amount_cents) FILTER (WHERE stripe_subscription_id IS NOT NULL), 0)::bigint
                FROM billing.payments GROUP BY 1
                """,
                logger: logger
            ).decode((String, Int64, Int64).self) {
                totalRevenue[currency] = total
                subscriptionRevenue[currency] = fromSubscriptions
            }
            let since = Date().addingTimeInterval(-Double(recentDays) * 86_400)
            var recent = 0
            for try await count in try await connection.query(
                "SELECT count(*)::int FROM billing.user_profiles WHERE created_at >= \(since)",
                logger: logger
            ).decode(Int.self) { recent = count }

            // MRR is summed exactly in Swift, per tier and currency, and rounded once.
            var revenue: [String: (tier: Tier, currency: String, count: Int, mrr: Decimal)] = [:]
            let subscriptions = try await connection.query(
                """
                SELECT tier, currency, unit_amount_cents, quantity, billing_interval, interval_count FROM billing.user_subscriptions
                WHERE status IN ('active', 'past_due') AND unit_amount_cents IS NOT NULL AND currency IS NOT NULL
                """,
                logger: logger
            )
            for try await (tier, currency, amount, quantity, interval, count) in subscriptions.decode((String, String, Int64, Int, String?, Int).self)
            {
                let key = "\(tier)/\(currency)"
                let monthly = MonthlyRecurring.amount(unitAmountCents: amount, quantity: quantity, interval: interval ?? "", intervalCount: count)
                var entry = revenue[key] ?? (Tier(rawValue: tier) ?? .starter, currency, 0, 0)
                entry.count += 1
                entry.mrr += monthly
                revenue[key] = entry
            }
            var payments: [PlatformStats.Payment] = []
            for try await (invoice, user, cents, currency, paidAt) in try await connection.query(
                "SELECT invoice_id, user_id, amount_cents, currency, paid_at FROM billing.payments ORDER BY paid_at DESC LIMIT 20",
                logger: logger
            ).decode((String, String?, Int64, String, Date).self) {
                payments.append(.init(invoiceID: invoice, userID: user, amount: Money(cents: cents, currency: currency), paidAt: paidAt))
            }
            return PlatformStats(
                totalUsers: total,
                usersByTier: byTier,
                usersByStatus: byStatus,
                usersByRole: byRole,
                activeUsers: active,
                inactiveUsers: total - active,
                totalRevenueCents: totalRevenue,
                subscriptionRevenueCents: subscriptionRevenue,
                recentSignups: recent,
                revenueByTier: revenue.values
                    .map { .init(tier: $0.tier, currency: $0.currency, activeSubscriptions: $0.count, mrrCents: MonthlyRecurring.rounded($0.mrr)) }
                    .sorted { ($0.tier, $0.currency) < ($1.tier, $1.currency) },
                recentPayments: payments
            )
        }
    }
}
