import Foundation
import PlanKit
import Testing

@Suite struct TierTests {
    @Test func limitsAndPricesFollowThePricingTable() {
        #expect(Tier.starter.limits == TierLimits(scenarios: 0, aiInsights: 5, transactionVolume: 10_000))
        #expect(Tier.professional.limits == TierLimits(scenarios: 3, aiInsights: 50, transactionVolume: 100_000))
        #expect(Tier.business.limits == TierLimits(scenarios: nil, aiInsights: 200, transactionVolume: 500_000))
        #expect(Tier.enterprise.limits == TierLimits(scenarios: nil, aiInsights: nil, transactionVolume: nil))
        #expect(Tier.allCases.map(\.monthlyPrice.amountCents) == [0, 2_900, 9_900, 29_900])
        #expect(Tier.starter < .professional && Tier.business < .enterprise)
    }

    @Test func unlimitedIsAnExplicitNull() throws {
        let json = String(decoding: try JSONEncoder().encode(Tier.business.limits), as: UTF8.self)
        #expect(json.contains(#""monthly_scenario_limit":null"#))
    }

    @Test func theCatalogMapsPricesBothWays() {
        let catalog = PlanCatalog(priceIDs: [.professional: "price_pro", .business: "price_biz"])
        #expect(catalog.tier(forPrice: "price_biz") == .business)
        #expect(catalog.tier(forPrice: "price_unknown") == nil)
        #expect(catalog.purchasableTiers == [.professional, .business])
    }
}

@Suite struct MonthlyRecurringTests {
    @Test func intervalsNormaliseToMonths() {
        #expect(MonthlyRecurring.amount(unitAmountCents: 10_000, quantity: 1, interval: "month", intervalCount: 1) == 10_000)
        #expect(MonthlyRecurring.amount(unitAmountCents: 60_000, quantity: 1, interval: "year", intervalCount: 1) == 5_000)
        #expect(MonthlyRecurring.amount(unitAmountCents: 3_000, quantity: 2, interval: "month", intervalCount: 3) == 2_000)
        #expect(MonthlyRecurring.rounded(MonthlyRecurring.amount(unitAmountCents: 1_200, quantity: 1, interval: "week", intervalCount: 1)) == 5_200)
        #expect(MonthlyRecurring.amount(unitAmountCents: 500, quantity: 1, interval: "fortnight", intervalCount: 1) == 0)
    }

    /// METRICS.md: 100 subscriptions at $100/month and 50 at $600/year → MRR $12,500.
    @Test func theMetricsExampleAddsUpExactly() {
        let monthly = (0..<100).map { _ in MonthlyRecurring.amount(unitAmountCents: 10_000, quantity: 1, interval: "month", intervalCount: 1) }
        let yearly = (0..<50).map { _ in MonthlyRecurring.amount(unitAmountCents: 60_000, quantity: 1, interval: "year", intervalCount: 1) }
        #expect(MonthlyRecurring.rounded((monthly + yearly).reduce(0, +)) == 1_250_000)
    }
}

@Suite struct UsageBillTests {
    @Test func transactionsOverTheLimitCostTenCentsPerStartedThousand() {
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 100_000).transactionVolumeOverageCharge == .usd(0))
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 100_001).transactionVolumeOverageCharge == .usd(10))
        #expect(UsageBill(tier: .professional, aiInsights: 0, transactionVolume: 350_000).transactionVolumeOverageCharge == .usd(2_500))
        #expect(UsageBill(tier: .business, aiInsights: 0, transactionVolume: 501_999).transactionVolumeOverageCharge == .usd(20))
    }

    @Test func insightsOverTheLimitCostADollarEach() {
        let bill = UsageBill(tier: .professional, aiInsights: 51, transactionVolume: 0)
        #expect(bill.aiInsightsOverageCharge == .usd(100))
        #expect(bill.baseCharge == .usd(2_900))
        #expect(bill.total == .usd(3_000))
    }

    @Test func enterpriseNeverHasOverageAndStarterIsNeverCharged() {
        let enterprise = UsageBill(tier: .enterprise, aiInsights: 1_000_000, transactionVolume: 90_000_000)
        #expect(enterprise.total == .usd(29_900))
        let starter = UsageBill(tier: .starter, aiInsights: 9, transactionVolume: 50_000)
        #expect(starter.total == .usd(0))
        #expect(UsageBill.remaining(7, of: 5) == 0)
        #expect(UsageBill.remaining(7, of: nil) == nil)
    }

    @Test func theMonthIsTheUTCCalendarMonth() {
        let lastSecond = Date(timeIntervalSince1970: 1_798_761_599)  // 2026-12-31T23:59:59Z
        let period = UsagePeriod(containing: lastSecond)
        #expect(period.start == Date(timeIntervalSince1970: 1_796_083_200))  // 2026-12-01T00:00:00Z
        #expect(period.end == Date(timeIntervalSince1970: 1_798_761_600))  // 2027-01-01T00:00:00Z
        #expect(UsagePeriod(containing: period.end).start == period.end)
    }
}

@Suite struct MajorUnitsTests {
    struct Field: Codable { var amount: Decimal }

    static func wire(_ money: Money) throws -> String {
        let json = String(decoding: try JSONEncoder().encode(Field(amount: money.majorUnits)), as: UTF8.self)
        return String(json.dropFirst(#"{"amount":"#.count).dropLast())
    }

    /// What the seed's JavaScript clients do with the number: read it as a double, and back to cents with Math.round.
    static func centsAsJavaScriptReadsThem(_ text: String) -> Int64? {
        Double(text).map { Int64(($0 * 100).rounded()) }
    }

    @Test func amountsAreWrittenAsExactDecimalNumbers() throws {
        #expect(try Self.wire(.usd(1_575_050)) == "15750.5")
        #expect(try Self.wire(.usd(29_999)) == "299.99")
        #expect(try Self.wire(.usd(100)) == "1")
        #expect(try Self.wire(.usd(-5)) == "-0.05")
        #expect(try Self.wire(.usd(0)) == "0")
        #expect(try Self.wire(Money(cents: 1_250, currency: "jpy")) == "1250")
        #expect(try Self.wire(Money(cents: 12_345, currency: "kwd")) == "12.345")
        #expect(Money(cents: 12_345, currency: "kwd").formatted == "KWD 12.345")
        #expect(Money(cents: 1_000_005, currency: "usd").formatted == "USD 10,000.05")
    }

    @Test func everyAmountUpToATrillionCentsRoundTrips() throws {
        var random = SystemRandomNumberGenerator()
        let edges: [Int64] = [1, 9, 10, 99, 101, 999_999_999_999, 1_000_000_000_000, 123_456_789_012, 100_000_000_001]
        let samples = edges + (0..<20_000).map { _ in Int64.random(in: 0...1_000_000_000_000, using: &random) }
        for cents in samples {
            let text = try Self.wire(.usd(cents))
            let decoded = try JSONDecoder().decode(Field.self, from: Data(#"{"amount":\#(text)}"#.utf8)).amount
            #expect(NSDecimalNumber(decimal: decoded * 100).int64Value == cents, "\(cents) written as \(text)")
            #expect(Self.centsAsJavaScriptReadsThem(text) == cents, "\(cents) written as \(text)")
            let fraction = String(format: "%02d", cents % 100).replacing(/0+$/, with: "")
            #expect(text == "\(cents / 100)" + (fraction.isEmpty ? "" : "." + fraction))
        }
    }
}
