import Foundation

/// A month of usage priced by the tier's rules (METRICS.md): the plan's price, $1.00 per AI insight over the limit,
/// $0.10 per started 1,000 transactions over the limit. Starter is free and is never charged overage: past its
/// limits it is asked to upgrade instead. No I/O.
public struct UsageBill: Codable, Sendable, Equatable {
    public var baseCharge: Money
    public var aiInsightsOverageCharge: Money
    public var transactionVolumeOverageCharge: Money
    public var total: Money

    public static let aiInsightOverageCents: Int64 = 100
    public static let transactionBlock: Int64 = 1_000
    public static let transactionBlockCents: Int64 = 10

    public init(tier: Tier, aiInsights: Int64, transactionVolume: Int64) {
        let limits = tier.limits
        let charged = tier.billsOverage
        let insightsOver = charged ? Self.over(aiInsights, limits.aiInsights) : 0
        let transactionsOver = charged ? Self.over(transactionVolume, limits.transactionVolume) : 0
        // Every started block of 1,000 is charged: 1 over the limit costs a whole block.
        let blocks = (transactionsOver + Self.transactionBlock - 1) / Self.transactionBlock
        baseCharge = tier.monthlyPrice
        aiInsightsOverageCharge = .usd(insightsOver * Self.aiInsightOverageCents)
        transactionVolumeOverageCharge = .usd(blocks * Self.transactionBlockCents)
        total = .usd(baseCharge.amountCents + aiInsightsOverageCharge.amountCents + transactionVolumeOverageCharge.amountCents)
    }

    /// What is left of a limit; nil when unlimited.
    public static func remaining(_ used: Int64, of limit: Int?) -> Int64? {
        limit.map { max(Int64($0) - used, 0) }
    }

    static func over(_ used: Int64, _ limit: Int?) -> Int64 {
        guard let limit else { return 0 }
        return max(used - Int64(limit), 0)
    }
}

/// The UTC calendar month a moment falls in, as usage is counted.
public struct UsagePeriod: Codable, Sendable, Equatable {
    public var start: Date
    public var end: Date

    public init(containing date: Date) {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let components = calendar.dateComponents([.year, .month], from: date)
        start = calendar.date(from: components)!
        end = calendar.date(byAdding: .month, value: 1, to: start)!
    }
}
