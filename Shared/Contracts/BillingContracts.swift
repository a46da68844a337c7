import Foundation
import PlanKit

// billing-webhooks' internal API (`/internal/…`), as it answers and as other services read it.

/// `GET /internal/stats`: users by tier, status and role, signups, revenue and MRR by tier, recent payments.
public struct PlatformStats: Codable, Sendable, Equatable {
    /// Active subscriptions and their MRR for one tier and currency.
    public struct TierRevenue: Codable, Sendable, Equatable {
        public var tier: Tier
        public var currency: String
        public var activeSubscriptions: Int
        public var mrrCents: Int64

        public init(tier: Tier, currency: String, activeSubscriptions: Int, mrrCents: Int64) {
            self.tier = tier
            self.currency = currency
            self.activeSubscriptions = activeSubscriptions
            self.mrrCents = mrrCents
        }
    }

    /// A recorded payment.
    public struct Payment: Codable, Sendable, Equatable {
        public var invoiceID: String
        public var userID: String?
        public var amount: Money
        public var paidAt: Date

        public init(invoiceID: String, userID: String? = nil, amount: Money, paidAt: Date) {
            self.invoiceID = invoiceID
            self.userID = userID
            self.amount = amount
            self.paidAt = paidAt
        }
    }

    public var totalUsers: Int
    public var usersByTier: [String: Int]
    public var usersByStatus: [String: Int]
    /// By the seed's roles: `admin` for admins, otherwise the partner level (`member`, `reseller`, `pro_reseller`).
    public var usersByRole: [String: Int]
    /// Signed in within 30 days, and not.
    public var activeUsers: Int
    public var inactiveUsers: Int
    /// Every recorded payment, and those that paid a subscription, by currency.
    public var totalRevenueCents: [String: Int64]
    public var subscriptionRevenueCents: [String: Int64]
    public var recentSignups: Int
    public var revenueByTier: [TierRevenue]
    public var recentPayments: [Payment]

    public init(
        totalUsers: Int,
        usersByTier: [String: Int],
        usersByStatus: [String: Int],
        usersByRole: [String: Int],
        activeUsers: Int,
        inactiveUsers: Int,
        totalRevenueCents: [String: Int64],
        subscriptionRevenueCents: [String: Int64],
        recentSignups: Int,
        revenueByTier: [TierRevenue],
        recentPayments: [Payment]
    ) {
        self.totalUsers = totalUsers
        self.usersByTier = usersByTier
        self.usersByStatus = usersByStatus
        self.usersByRole = usersByRole
        self.activeUsers = activeUsers
        self.inactiveUsers = inactiveUsers
        self.totalRevenueCents = totalRevenueCents
        self.subscriptionRevenueCents = subscriptionRevenueCents
        self.recentSignups = recentSignups
        self.revenueByTier = revenueByTier
        self.recentPayments = recentPayments
    }
}

/// `GET /internal/commissions?currency=`: the referral ledger's totals, in cents.
public struct CommissionReport: Codable, Sendable, Equatable {
    /// A referrer and what they earned.
    public struct Performer: Codable, Sendable, Equatable {
        public var userId: String
        public var username: String
        public var totalCommission: Int64
        public var transactionCount: Int

        public init(userId: String, username: String, totalCommission: Int64, transactionCount: Int) {
            self.userId = userId
            self.username = username
            self.totalCommission = totalCommission
            self.transactionCount = transactionCount
        }
    }

    /// Commissions by the referrer's partner level when they were earned.
    public struct ByLevel: Codable, Sendable, Equatable {
        public var level: String
        public var totalCommission: Int64
        public var transactionCount: Int

        public init(level: String, totalCommission: Int64, transactionCount: Int) {
            self.level = level
            self.totalCommission = totalCommission
            self.transactionCount = transactionCount
        }
    }

    /// One commission.
    public struct Entry: Codable, Sendable, Equatable {
        public var invoiceId: String
        public var referrerId: String
        public var referredUserId: String
        public var paymentCents: Int64
        public var ratePercent: Int
        public var commissionCents: Int64
        public var currency: String
        public var createdAt: Date

        public init(
            invoiceId: String,
            referrerId: String,
            referredUserId: String,
            paymentCents: Int64,
            ratePercent: Int,
            commissionCents: Int64,
            currency: String,
            createdAt: Date
        ) {
            self.invoiceId = invoiceId
            self.referrerId = referrerId
            self.referredUserId = referredUserId
            self.paymentCents = paymentCents
            self.ratePercent = ratePercent
            self.commissionCents = commissionCents
            self.currency = currency
            self.createdAt = createdAt
        }
    }

    public var currency: String
    public var totalCommissions: Int64
    public var totalTransactions: Int
    public var topPerformers: [Performer]
    public var commissionByLevel: [ByLevel]
    public var recentCommissions: [Entry]

    public init(
        currency: String,
        totalCommissions: Int64,
        totalTransactions: Int,
        topPerformers: [Performer],
        commissionByLevel: [ByLevel],
        recentCommissions: [Entry]
    ) {
        self.currency = currency
        self.totalCommissions = totalCommissions
        self.totalTransactions = totalTransactions
        self.topPerformers = topPerformers
        self.commissionByLevel = commissionByLevel
        self.recentCommissions = recentCommissions
    }
}

/// `GET /internal/users?page=&per_page=`: users, oldest first.
public struct UserPage: Codable, Sendable, Equatable {
    /// One user.
    public struct User: Codable, Sendable, Equatable {
        public var id: String
        public var email: String?
        /// What the user is called where no name is kept: the email's local part, else the id.
        public var username: String
        /// `admin` or `user`.
        public var role: String
        public var partnerLevel: String
        public var tier: String
        public var subscriptionStatus: String
        public var active: Bool
        public var createdAt: Date
        public var lastSeenAt: Date?

        public init(
            id: String,
            email: String? = nil,
            username: String,
            role: String,
            partnerLevel: String = "member",
            tier: String,
            subscriptionStatus: String,
            active: Bool,
            createdAt: Date,
            lastSeenAt: Date? = nil
        ) {
            self.id = id
            self.email = email
            self.username = username
            self.role = role
            self.partnerLevel = partnerLevel
            self.tier = tier
            self.subscriptionStatus = subscriptionStatus
            self.active = active
            self.createdAt = createdAt
            self.lastSeenAt = lastSeenAt
        }
    }

    public var total: Int
    public var page: Int
    public var perPage: Int
    public var users: [User]

    public init(total: Int, page: Int, perPage: Int, users: [User]) {
        self.total = total
        self.page = page
        self.perPage = perPage
        self.users = users
    }
}

/// `GET /internal/accounts/{userId}`: what another service needs to know about a user's plan.
public struct AccountSummary: Codable, Sendable, Equatable {
    public var userID: String
    /// False for a user who never signed in (then on starter).
    public var exists: Bool
    public var tier: Tier
    public var status: String
    public var limits: TierLimits
    public var currentPeriodEnd: Date?
    public var stripeCustomerID: String?

    public init(userID: String, exists: Bool, tier: Tier, status: String, limits: TierLimits, currentPeriodEnd: Date?, stripeCustomerID: String?) {
        self.userID = userID
        self.exists = exists
        self.tier = tier
        self.status = status
        self.limits = limits
        self.currentPeriodEnd = currentPeriodEnd
        self.stripeCustomerID = stripeCustomerID
    }
}
