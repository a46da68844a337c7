import Contracts
import Foundation
import Hummingbird
import PlanKit
import ServiceKit

/// The DevOps module's data-sync endpoints, in the seed's response shapes, fed by billing-webhooks over internal HTTP.
/// Each amount the seed defines is in major units (`total_revenue: 157.5`, exact, from the integer), with the integer
/// minor units beside it (`total_revenue_cents: 15750`) and the `currency` they are in.
struct SyncRoutes {
    let client: InternalClient
    let settings: DevOpsSettings
    let usage: UsageRecorder

    /// The seed's `users_by_role` keys: `admin` for admins, otherwise the user's partner level.
    static let seedRoles = ["admin", "member", "reseller", "pro_reseller"]

    struct UsersSync: ResponseEncodable {
        var timestamp: Date
        var totalUsers: Int
        var usersByRole: [String: Int]
        var usersByStatus: [String: Int]
        var usersByTier: [String: Int]
        var recentSignups: Int
        var users: [SyncedUser]
        var pagination: [String: Int]

        enum CodingKeys: String, CodingKey {
            case timestamp, users, pagination
            case totalUsers = "total_users"
            case usersByRole = "users_by_role"
            case usersByStatus = "users_by_status"
            case usersByTier = "users_by_tier"
            case recentSignups = "recent_signups"
        }
    }

    struct RevenueSync: ResponseEncodable {
        struct PlanRevenue: Encodable {
            var count: Int
            var revenue: Decimal
            var revenueCents: Int64
            enum CodingKeys: String, CodingKey {
                case count, revenue
                case revenueCents = "revenue_cents"
            }
        }
        struct Transaction: Encodable {
            var invoiceId: String
            var userId: String?
            var amount: Decimal
            var amountCents: Int64
            var currency: String
            var paidAt: Date
            enum CodingKeys: String, CodingKey {
                case amount, currency
                case amountCents = "amount_cents"
                case invoiceId = "invoice_id"
                case userId = "user_id"
                case paidAt = "paid_at"
            }
        }
        var timestamp: Date
        var currency: String
        var totalRevenue: Decimal
        var totalRevenueCents: Int64
        var subscriptionRevenue: Decimal
        var subscriptionRevenueCents: Int64
        var tripwireRevenue: Decimal
        var tripwireRevenueCents: Int64
        var monthlyRecurringRevenue: Decimal
        var monthlyRecurringRevenueCents: Int64
        var activeSubscriptions: Int
        /// Keyed by plan: every paid plan, with zeros when nobody is on it.
        var subscriptionBreakdown: [String: PlanRevenue]
        var recentTransactions: [Transaction]

        enum CodingKeys: String, CodingKey {
            case timestamp, currency
            case totalRevenue = "total_revenue"
            case totalRevenueCents = "total_revenue_cents"
            case subscriptionRevenue = "subscription_revenue"
            case subscriptionRevenueCents = "subscription_revenue_cents"
            case tripwireRevenue = "tripwire_revenue"
            case tripwireRevenueCents = "tripwire_revenue_cents"
            case monthlyRecurringRevenue = "monthly_recurring_revenue"
            case monthlyRecurringRevenueCents = "monthly_recurring_revenue_cents"
            case activeSubscriptions = "active_subscriptions"
            case subscriptionBreakdown = "subscription_breakdown"
            case recentTransactions = "recent_transactions"
        }

        /// The seed's revenue figures from billing's statistics, in one currency. No I/O.
        init(_ stats: PlatformStats, currency: String, at timestamp: Date) {
            func money(_ cents: Int64) -> Money { Money(cents: cents, currency: currency) }
            let tiers = stats.revenueByTier.filter { $0.currency == currency }
            let total = money(stats.totalRevenueCents[currency] ?? 0)
            let subscriptions = money(stats.subscriptionRevenueCents[currency] ?? 0)
            let oneOff = money(total.amountCents - subscriptions.amountCents)
            let mrr = money(tiers.reduce(0) { $0 + $1.mrrCents })
            self.timestamp = timestamp
            self.currency = currency
            (totalRevenue, totalRevenueCents) = (total.majorUnits, total.amountCents)
            (subscriptionRevenue, subscriptionRevenueCents) = (subscriptions.majorUnits, subscriptions.amountCents)
            (tripwireRevenue, tripwireRevenueCents) = (oneOff.majorUnits, oneOff.amountCents)
            (monthlyRecurringRevenue, monthlyRecurringRevenueCents) = (mrr.majorUnits, mrr.amountCents)
            activeSubscriptions = tiers.reduce(0) { $0 + $1.activeSubscriptions }
            var breakdown: [String: PlanRevenue] = [:]
            for tier in Tier.allCases where tier.monthlyPrice.amountCents > 0 || tiers.contains(where: { $0.tier == tier }) {
                let rows = tiers.filter { $0.tier == tier }
                let revenue = money(rows.reduce(0) { $0 + $1.mrrCents })
                breakdown[tier.rawValue] = PlanRevenue(
                    count: rows.reduce(0) { $0 + $1.activeSubscriptions },
                    revenue: revenue.majorUnits,
                    revenueCents: revenue.amountCents
                )
            }
            subscriptionBreakdown = breakdown
            recentTransactions = stats.recentPayments.filter { $0.amount.currency == currency }.map {
                Transaction(
                    invoiceId: $0.invoiceID,
                    userId: $0.userID,
                    amount: $0.amount.majorUnits,
                    amountCents: $0.amount.amountCents,
                    currency: $0.amount.currency,
                    paidAt: $0.paidAt
                )
            }
        }
    }

    struct CommissionsSync: ResponseEncodable {
        struct Performer: Encodable {
            var userId: String
            var username: String
            var totalCommission: Decimal
            var totalCommissionCents: Int64
            var transactionCount: Int
            enum CodingKeys: String, CodingKey {
                case username
                case userId = "user_id"
                case totalCommission = "total_commission"
                case totalCommissionCents = "total_commission_cents"
                case transactionCount = "transaction_count"
            }
        }
        struct LevelCommission: Encodable {
            var count: Int
            var total: Decimal
            var totalCents: Int64
            enum CodingKeys: String, CodingKey {
                case count, total
                case totalCents = "total_cents"
            }
        }
        struct Commission: Encodable {
            var invoiceId: String
            var referrerId: String
            var referredUserId: String
            var amount: Decimal
            var amountCents: Int64
            var ratePercent: Int
            var commission: Decimal
            var commissionCents: Int64
            var createdAt: Date
            enum CodingKeys: String, CodingKey {
                case amount, commission
                case amountCents = "amount_cents"
                case commissionCents = "commission_cents"
                case invoiceId = "invoice_id"
                case referrerId = "referrer_id"
                case referredUserId = "referred_user_id"
                case ratePercent = "rate_percent"
                case createdAt = "created_at"
            }
        }

        var timestamp: Date
        var currency: String
        var totalCommissions: Decimal
        var totalCommissionsCents: Int64
        var totalTransactions: Int
        var topPerformers: [Performer]
        /// Keyed by the referrer's partner level, in the seed's words (`membership` is the member level).
        var commissionByTier: [String: LevelCommission]
        var recentCommissions: [Commission]

        /// The seed's key for each partner level.
        static let seedLevelKeys = ["member": "membership", "reseller": "reseller", "pro_reseller": "pro_reseller"]

        enum CodingKeys: String, CodingKey {
            case timestamp, currency
            case totalCommissions = "total_commissions"
            case totalCommissionsCents = "total_commissions_cents"
            case totalTransactions = "total_transactions"
            case topPerformers = "top_performers"
            case commissionByTier = "commission_by_tier"
            case recentCommissions = "recent_commissions"
        }

        /// The seed's commission figures from billing's ledger. No I/O.
        init(_ report: CommissionReport, at timestamp: Date) {
            func money(_ cents: Int64) -> Money { Money(cents: cents, currency: report.currency) }
            self.timestamp = timestamp
            currency = report.currency
            let total = money(report.totalCommissions)
            (totalCommissions, totalCommissionsCents) = (total.majorUnits, total.amountCents)
            totalTransactions = report.totalTransactions
            topPerformers = report.topPerformers.map {
                let earned = money($0.totalCommission)
                return Performer(
                    userId: $0.userId,
                    username: $0.username,
                    totalCommission: earned.majorUnits,
                    totalCommissionCents: earned.amountCents,
                    transactionCount: $0.transactionCount
                )
            }
            var byLevel: [String: LevelCommission] = [:]
            for (level, key) in Self.seedLevelKeys {
                let rows = report.commissionByLevel.filter { $0.level == level }
                let earned = money(rows.reduce(0) { $0 + $1.totalCommission })
                byLevel[key] = LevelCommission(
                    count: rows.reduce(0) { $0 + $1.transactionCount },
                    total: earned.majorUnits,
                    totalCents: earned.amountCents
                )
            }
            commissionByTier = byLevel
            recentCommissions = report.recentCommissions.map {
                let payment = money($0.paymentCents)
                let commission = money($0.commissionCents)
                return Commission(
                    invoiceId: $0.invoiceId,
                    referrerId: $0.referrerId,
                    referredUserId: $0.referredUserId,
                    amount: payment.majorUnits,
                    amountCents: payment.amountCents,
                    ratePercent: $0.ratePercent,
                    commission: commission.majorUnits,
                    commissionCents: commission.amountCents,
                    createdAt: $0.createdAt
                )
            }
        }
    }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/devops/sync/users") { request, context -> UsersSync in
            try authorize(context, scope: .syncUsers, endpoint: "sync/users")
            let page = max(request.uri.queryParameters.get("page", as: Int.self) ?? 1, 1)
            let perPage = min(max(request.uri.queryParameters.get("per_page", as: Int.self) ?? 100, 1), 500)
            async let stats = billing("/internal/stats", as: PlatformStats.self, context: context)
            async let users = billing("/internal/users?page=\(page)&per_page=\(perPage)", as: UserPage.self, context: context)
            let (summary, list) = try await (stats, users)
            return UsersSync(
                timestamp: Date(),
                totalUsers: summary.totalUsers,
                usersByRole: Dictionary(uniqueKeysWithValues: Self.seedRoles.map { ($0, summary.usersByRole[$0] ?? 0) }),
                usersByStatus: ["active": summary.activeUsers, "inactive": summary.inactiveUsers],
                usersByTier: summary.usersByTier,
                recentSignups: summary.recentSignups,
                users: list.users.map(SyncedUser.init),
                pagination: ["page": page, "per_page": perPage, "total": summary.totalUsers]
            )
        }
        router.get("/api/devops/sync/revenue") { _, context -> RevenueSync in
            try authorize(context, scope: .syncRevenue, endpoint: "sync/revenue")
            let stats = try await billing("/internal/stats", as: PlatformStats.self, context: context)
            return RevenueSync(stats, currency: settings.reportingCurrency, at: Date())
        }
        router.get("/api/devops/sync/commissions") { _, context -> CommissionsSync in
            try authorize(context, scope: .syncCommissions, endpoint: "sync/commissions")
            let report = try await billing(
                "/internal/commissions?currency=\(settings.reportingCurrency)",
                as: CommissionReport.self,
                context: context
            )
            return CommissionsSync(report, at: Date())
        }
    }

    /// The gateway checked the key and its scope; the service checks again, and counts the use.
    func authorize(_ context: ServiceRequestContext, scope: KeyPermission, endpoint: String) throws {
        let identity = try context.requireIdentity()
        guard identity.role == .apiKey, identity.scopes.contains(scope.rawValue) else {
            throw APIError.forbidden("insufficient_scope", "this endpoint needs an API key with \(scope.rawValue)")
        }
        usage.record(keyID: identity.apiKeyID.flatMap(UUID.init(uuidString:)), endpoint: endpoint)
    }

    func billing<Value: Decodable>(_ path: String, as type: Value.Type, context: ServiceRequestContext) async throws -> Value {
        let reply: InternalClient.Reply
        do {
            reply = try await client.send(.init(.GET, settings.billingURL + path), requestID: context.requestID, logger: context.logger)
        } catch {
            throw APIError(.serviceUnavailable, "billing_unavailable", "billing-webhooks cannot be reached")
        }
        guard reply.status == .ok else { throw APIError(.badGateway, "billing_error", "billing-webhooks answered \(reply.status.code)") }
        return try reply.decode(type)
    }
}

/// A user as the DevOps module receives it; `role` is the seed's (`admin`, or the partner level).
struct SyncedUser: Encodable {
    var id: String
    var email: String?
    var username: String
    var role: String
    var tier: String
    var status: String
    var subscriptionStatus: String
    var createdAt: Date
    var lastSeenAt: Date?

    init(_ user: UserPage.User) {
        id = user.id
        email = user.email
        username = user.username
        role = user.role == "admin" ? "admin" : user.partnerLevel
        tier = user.tier
        status = user.active ? "active" : "inactive"
        subscriptionStatus = user.subscriptionStatus
        createdAt = user.createdAt
        lastSeenAt = user.lastSeenAt
    }

    enum CodingKeys: String, CodingKey {
        case id, email, username, role, tier, status
        case subscriptionStatus = "subscription_status"
        case createdAt = "created_at"
        case lastSeenAt = "last_seen_at"
    }
}
