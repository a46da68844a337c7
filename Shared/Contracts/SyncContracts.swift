import Foundation

// stripe-sync's internal API, as it answers and as insights-usage reads it.

/// One day's metrics of one connection in one currency, as stored in `metrics_snapshots` (the seed's columns).
/// Money is in minor units: `mrr` and the movements exactly, as decimals.
public struct MetricsSnapshot: Codable, Sendable, Equatable {
    public var day: String
    public var currency: String
    public var mrr: Decimal
    public var arr: Decimal
    public var totalRevenue: Int64
    public var totalCustomers: Int
    public var activeSubscriptions: Int
    public var arpu: Decimal?
    public var ltv: Decimal?
    public var customerChurnRate: Decimal?
    public var revenueChurnRate: Decimal?
    public var netRevenueChurnRate: Decimal?
    public var newMrr: Decimal
    public var expansionMrr: Decimal
    public var contractionMrr: Decimal
    public var churnedMrr: Decimal
    public var reactivationMrr: Decimal
    public var paymentSuccessRate: Decimal?
    public var disputeRate: Decimal?
    public var subscriptionGrowthRate: Decimal?


    public init(
        day: String,
        currency: String,
        mrr: Decimal,
        arr: Decimal,
        totalRevenue: Int64,
        totalCustomers: Int,
        activeSubscriptions: Int,
        arpu: Decimal? = nil,
        ltv: Decimal? = nil,
        customerChurnRate: Decimal? = nil,
        revenueChurnRate: Decimal? = nil,
        netRevenueChurnRate: Decimal? = nil,
        newMrr: Decimal = 0,
        expansionMrr: Decimal = 0,
        contractionMrr: Decimal = 0,
        churnedMrr: Decimal = 0,
        reactivationMrr: Decimal = 0,
        paymentSuccessRate: Decimal? = nil,
        disputeRate: Decimal? = nil,
        subscriptionGrowthRate: Decimal? = nil
    ) {
        self.day = day
        self.currency = currency
        self.mrr = mrr
        self.arr = arr
        self.totalRevenue = totalRevenue
        self.totalCustomers = totalCustomers
        self.activeSubscriptions = activeSubscriptions
        self.arpu = arpu
        self.ltv = ltv
        self.customerChurnRate = customerChurnRate
        self.revenueChurnRate = revenueChurnRate
        self.netRevenueChurnRate = netRevenueChurnRate
        self.newMrr = newMrr
        self.expansionMrr = expansionMrr
        self.contractionMrr = contractionMrr
        self.churnedMrr = churnedMrr
        self.reactivationMrr = reactivationMrr
        self.paymentSuccessRate = paymentSuccessRate
        self.disputeRate = disputeRate
        self.subscriptionGrowthRate = subscriptionGrowthRate
    }

    enum CodingKeys: String, CodingKey {
        case day, currency, mrr, arr, arpu, ltv
        case totalRevenue = "total_revenue"
        case totalCustomers = "total_customers"
        case activeSubscriptions = "active_subscriptions"
        case customerChurnRate = "customer_churn_rate"
        case revenueChurnRate = "revenue_churn_rate"
        case netRevenueChurnRate = "net_revenue_churn_rate"
        case newMrr = "new_mrr"
        case expansionMrr = "expansion_mrr"
        case contractionMrr = "contraction_mrr"
        case churnedMrr = "churned_mrr"
        case reactivationMrr = "reactivation_mrr"
        case paymentSuccessRate = "payment_success_rate"
        case disputeRate = "dispute_rate"
        case subscriptionGrowthRate = "subscription_growth_rate"
    }
}

/// `GET /internal/connections/{id}/snapshots?days=`: a connection's owner, headline currency and daily snapshots.
public struct ConnectionSnapshots: Codable, Sendable, Equatable {
    public var connectionId: UUID
    public var userId: String
    public var currency: String
    public var snapshots: [MetricsSnapshot]

    public init(connectionId: UUID, userId: String, currency: String, snapshots: [MetricsSnapshot]) {
        self.connectionId = connectionId
        self.userId = userId
        self.currency = currency
        self.snapshots = snapshots
    }
}
