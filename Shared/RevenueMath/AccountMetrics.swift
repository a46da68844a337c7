import Foundation

/// A charge as the window's revenue and payment metrics read it.
public struct ChargeRecord: Sendable, Equatable {
    public var created: Date
    /// What was captured (Stripe's `amount_captured`; less than `amount` for a partial capture).
    public var amountCents: Int64
    public var refundedCents: Int64
    public var succeeded: Bool
    /// Still `pending`: neither a success nor a failure yet, so left out of the success rate.
    public var pending: Bool
    public var disputed: Bool
    public var currency: String

    public init(
        created: Date,
        amountCents: Int64,
        refundedCents: Int64 = 0,
        succeeded: Bool,
        pending: Bool = false,
        disputed: Bool = false,
        currency: String
    ) {
        self.created = created
        self.amountCents = amountCents
        self.refundedCents = refundedCents
        self.succeeded = succeeded
        self.pending = pending
        self.disputed = disputed
        self.currency = currency
    }
}

/// One currency's metrics for one day, over the 30-day window that ends on it. Rates are fractions (0.1 = 10 %),
/// absent where METRICS.md says so. MRR, ARR and movements are exact (10⁻⁶ of a minor unit); ARPU and LTV are rounded
/// to `moneyRatioPlaces` decimal places of a minor unit, rates to `ratePlaces` decimal places, half away from zero.
public struct AccountMetrics: Sendable, Equatable {
    public var mrr: Decimal
    public var arr: Decimal
    public var totalRevenueCents: Int64
    public var totalCustomers: Int
    public var activeSubscriptions: Int
    public var arpu: Decimal?
    public var customerChurnRate: Decimal?
    public var revenueChurnRate: Decimal?
    public var netRevenueChurnRate: Decimal?
    public var ltv: Decimal?
    public var paymentSuccessRate: Decimal?
    public var disputeRate: Decimal?
    public var subscriptionGrowthRate: Decimal?
    public var movements: Movements
}

extension RevenueMath {
    /// ARPU and LTV: hundredths of a cent.
    public static let moneyRatioPlaces = 2
    /// Rates: a millionth (0.0001 %).
    public static let ratePlaces = 6

    /// - Parameters:
    ///   - days: customer → MRR for each day of the window, first day = window start, last = today (one currency).
    ///   - history: customers who had MRR before the window.
    ///   - activeSubscriptions: subscriptions with MRR > 0 today, and 30 days ago.
    ///   - charges: the window's charges in this currency.
    public static func accountMetrics(
        days: [[String: Decimal]],
        history: Set<String> = [],
        activeSubscriptions: (now: Int, windowStart: Int),
        charges: [ChargeRecord]
    ) throws(MovementImbalance) -> AccountMetrics {
        accountMetrics(
            start: days.first ?? [:],
            today: days.last ?? [:],
            movements: try dailyMovements(days, history: history).reduce(Movements(), +),
            activeSubscriptions: activeSubscriptions,
            charges: charges
        )
    }

    /// The same from the window's first and last day and the sum of its daily movements.
    public static func accountMetrics(
        start: [String: Decimal],
        today: [String: Decimal],
        movements: Movements,
        activeSubscriptions: (now: Int, windowStart: Int),
        charges: some Collection<ChargeRecord>
    ) -> AccountMetrics {
        let totals = WindowTotals(
            mrr: today.values.reduce(0, +),
            startMRR: start.values.reduce(0, +),
            customers: today.values.count(where: { $0 > 0 }),
            startCustomers: start.values.count(where: { $0 > 0 }),
            lostCustomers: start.count(where: { $0.value > 0 && (today[$0.key] ?? 0) == 0 })
        )
        return accountMetrics(totals, movements: movements, activeSubscriptions: activeSubscriptions, charges: charges)
    }

    /// The same from the window's totals.
    static func accountMetrics(
        _ totals: WindowTotals,
        movements: Movements,
        activeSubscriptions: (now: Int, windowStart: Int),
        charges: some Collection<ChargeRecord>
    ) -> AccountMetrics {
        let mrr = totals.mrr
        let startMRR = totals.startMRR
        let arpu: Decimal? = totals.customers > 0 ? mrr / Decimal(totals.customers) : nil
        let customerChurn: Decimal? = totals.startCustomers == 0 ? nil : Decimal(totals.lostCustomers) / Decimal(totals.startCustomers)
        let succeeded = charges.filter(\.succeeded)
        let settled = charges.count(where: { !$0.pending })
        func money(_ value: Decimal?) -> Decimal? { value?.rounded(places: moneyRatioPlaces) }
        func rate(_ value: Decimal?) -> Decimal? { value?.rounded(places: ratePlaces) }
        return AccountMetrics(
            mrr: mrr,
            arr: mrr * 12,
            totalRevenueCents: succeeded.reduce(0) { $0 + $1.amountCents - $1.refundedCents },
            totalCustomers: totals.customers,
            activeSubscriptions: activeSubscriptions.now,
            arpu: money(arpu),
            customerChurnRate: rate(customerChurn),
            revenueChurnRate: rate(startMRR > 0 ? (movements.churned + movements.contraction) / startMRR : nil),
            netRevenueChurnRate: rate(
                startMRR > 0 ? (movements.churned + movements.contraction - movements.expansion - movements.reactivation) / startMRR : nil
            ),
            // From the exact ARPU and churn, rounded once.
            ltv: money(arpu.flatMap { arpu in customerChurn.flatMap { $0 > 0 ? arpu / $0 : nil } }),
            paymentSuccessRate: rate(settled == 0 ? nil : Decimal(succeeded.count) / Decimal(settled)),
            disputeRate: rate(succeeded.isEmpty ? nil : Decimal(charges.filter(\.disputed).count) / Decimal(succeeded.count)),
            subscriptionGrowthRate: rate(
                activeSubscriptions.windowStart > 0
                    ? Decimal(activeSubscriptions.now - activeSubscriptions.windowStart) / Decimal(activeSubscriptions.windowStart) : nil
            ),
            movements: movements
        )
    }
}

/// A window's MRR and customers at its start and on its last day. `lostCustomers` are those with MRR at the start and
/// none on the last day: each churned inside the window, and those who both started and churned inside it are not
/// among them (METRICS.md's customer churn).
struct WindowTotals {
    var mrr: Decimal
    var startMRR: Decimal
    var customers: Int
    var startCustomers: Int
    var lostCustomers: Int
}
