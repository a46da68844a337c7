/// The plan tiers of METRICS.md, in upgrade order.
public enum Tier: String, Codable, CaseIterable, Comparable, Sendable {
    case starter, professional, business, enterprise

    public var displayName: String { rawValue.prefix(1).uppercased() + rawValue.dropFirst() }

    /// What the tier includes each month; nil is unlimited.
    public var limits: TierLimits {
        switch self {
        case .starter: TierLimits(scenarios: 0, aiInsights: 5, transactionVolume: 10_000)
        case .professional: TierLimits(scenarios: 3, aiInsights: 50, transactionVolume: 100_000)
        case .business: TierLimits(scenarios: nil, aiInsights: 200, transactionVolume: 500_000)
        case .enterprise: TierLimits(scenarios: nil, aiInsights: nil, transactionVolume: nil)
        }
    }

    public var monthlyPrice: Money {
        switch self {
        case .starter: .usd(0)
        case .professional: .usd(2_900)
        case .business: .usd(9_900)
        case .enterprise: .usd(29_900)
        }
    }

    /// Paid tiers go past their limits and pay overage; starter is free, so past a limit it is asked to upgrade.
    public var billsOverage: Bool { self != .starter }

    /// The next tier up, if any.
    public var next: Tier? { Tier.allCases.first { $0 > self } }

    public static func < (lhs: Tier, rhs: Tier) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }
}

public struct TierLimits: Codable, Hashable, Sendable {
    public var scenarios: Int?
    public var aiInsights: Int?
    public var transactionVolume: Int?

    public init(scenarios: Int?, aiInsights: Int?, transactionVolume: Int?) {
        self.scenarios = scenarios
        self.aiInsights = aiInsights
        self.transactionVolume = transactionVolume
    }

    enum CodingKeys: String, CodingKey {
        case scenarios = "monthly_scenario_limit"
        case aiInsights = "monthly_ai_insights_limit"
        case transactionVolume = "monthly_transaction_volume_limit"
    }

    /// Encodes unlimited as an explicit `null`, as the seed's profile columns read.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(scenarios, forKey: .scenarios)
        try container.encode(aiInsights, forKey: .aiInsights)
        try container.encode(transactionVolume, forKey: .transactionVolume)
    }
}

/// Which Stripe price buys which tier, from the `STRIPE_<TIER>_PRICE_ID` variables.
public struct PlanCatalog: Sendable, Equatable {
    public var priceIDs: [Tier: String]

    public init(priceIDs: [Tier: String]) {
        self.priceIDs = priceIDs
    }

    public func priceID(for tier: Tier) -> String? { priceIDs[tier] }

    /// The tier a price buys; nil for a price the catalog does not know.
    public func tier(forPrice priceID: String) -> Tier? {
        priceIDs.first { $0.value == priceID }?.key
    }

    /// The paid tiers a user can check out into.
    public var purchasableTiers: [Tier] { Tier.allCases.filter { $0 != .starter && priceIDs[$0] != nil } }
}
