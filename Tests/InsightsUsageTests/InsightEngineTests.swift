import Contracts
import Foundation
import PlanKit
import Testing

@testable import InsightsUsage

@Suite struct InsightEngineTests {
    /// Consecutive days from 2026-01-01, each with the given MRR (cents) and the rest from `latest` on the last day.
    static func history(_ mrr: [Decimal], latest: (inout MetricsSnapshot) -> Void = { _ in }) -> [MetricsSnapshot] {
        var days = mrr.enumerated().map { index, value in
            MetricsSnapshot(
                day: String(format: "2026-01-%02d", index + 1),
                currency: "usd",
                mrr: value,
                arr: value * 12,
                totalRevenue: 0,
                totalCustomers: 10,
                activeSubscriptions: 10
            )
        }
        if !days.isEmpty { latest(&days[days.count - 1]) }
        return days
    }

    @Test func aSteadyTrendIsExtendedExactlyWithNoSpread() {
        let days = Self.history((0..<30).map { 100_000 + Decimal($0) * 1_000 })
        let prediction = InsightEngine.report(days, currency: "usd").revenuePrediction
        #expect(prediction.status == "predicted")
        #expect(prediction.next30Days == .init(mrr: 159_000, low: 159_000, high: 159_000))
        #expect(prediction.next90Days == .init(mrr: 219_000, low: 219_000, high: 219_000))
        #expect(prediction.explanation.facts.contains(Fact("mrr_trend_per_day", 1_000)))
        #expect(prediction.explanation.text.contains("USD 1,590.00 in 30 days"))
    }

    @Test func noisyHistoryGivesARangeAroundTheTrend() {
        let days = Self.history((0..<20).map { 50_000 + Decimal($0) * 500 + ($0 % 2 == 0 ? 800 : -800) })
        let next30 = try! #require(InsightEngine.report(days, currency: "usd").revenuePrediction.next30Days)
        #expect(next30.low < next30.mrr && next30.mrr < next30.high)
        #expect(next30.high - next30.mrr == next30.mrr - next30.low)
    }

    @Test func tooLittleHistorySaysSoInsteadOfPredicting() {
        let report = InsightEngine.report(Self.history([1_000, 1_100, 1_200, 1_300, 1_400]), currency: "usd")
        #expect(report.revenuePrediction.status == "insufficient_history")
        #expect(report.revenuePrediction.next30Days == nil && report.revenuePrediction.next90Days == nil)
        #expect(report.revenuePrediction.explanation.facts == [Fact("snapshot_days", 5)])
        #expect(report.limitations.contains { $0.contains("Only 5 days") })
    }

    @Test func noSnapshotsAtAllClaimNothing() {
        let report = InsightEngine.report([], currency: "eur")
        #expect(report.churnRisk.level == "unknown")
        #expect(report.healthScore.score == nil)
        #expect(report.growthOpportunities.isEmpty && report.pricingSuggestions.isEmpty)
        #expect(report.limitations.first?.contains("No metrics yet") == true)
    }

    /// Each component halfway between its worst and best value scores 50; growth of +10 % scores 100.
    /// (100 × 25 + 50 × 30 + 50 × 20 + 50 × 15 + 50 × 10) / 100 = 62.5 → 63.
    @Test func theHealthScoreIsTheWeightedMeanOfItsComponents() {
        let days = Self.history([100_000, 110_000]) {
            $0.customerChurnRate = 0.05
            $0.netRevenueChurnRate = 0.025
            $0.paymentSuccessRate = 0.92
            $0.disputeRate = 0.005
        }
        let health = InsightEngine.report(days, currency: "usd").healthScore
        #expect(health.components.map(\.name) == ["growth", "retention", "net_revenue_retention", "payments", "disputes"])
        #expect(health.components.map(\.score) == [100, 50, 50, 50, 50])
        #expect(health.score == 63)
    }

    @Test func componentsWithoutDataLeaveTheScoreToTheOthers() {
        let days = Self.history([100_000, 100_000]) { $0.customerChurnRate = 0 }
        let health = InsightEngine.report(days, currency: "usd").healthScore
        // Growth 0 % scores 50 (weight 25), retention with no churn 100 (weight 30): (1,250 + 3,000) / 55 = 77.3.
        #expect(health.components.map(\.score) == [50, 100])
        #expect(health.score == 77)
    }

    @Test func churnRiskNamesItsReasonsWorstFirst() {
        let medium = InsightEngine.report(Self.history([100_000, 100_000]) { $0.customerChurnRate = 0.04 }, currency: "usd").churnRisk
        #expect(medium.level == "medium")
        #expect(medium.reasons.first?.facts == [Fact("customer_churn_rate", 0.04, day: "2026-01-02")])

        let high = InsightEngine.report(
            Self.history([100_000, 100_000]) {
                $0.customerChurnRate = 0.04
                $0.paymentSuccessRate = 0.85
            },
            currency: "usd"
        ).churnRisk
        #expect(high.level == "high")
        #expect(high.reasons.first?.text.contains("Only 85% of charges") == true)

        let low = InsightEngine.report(Self.history([100_000, 100_000]) { $0.customerChurnRate = 0.01 }, currency: "usd").churnRisk
        #expect(low.level == "low")
        #expect(low.reasons.first?.facts == [Fact("customer_churn_rate", 0.01, day: "2026-01-02")])
    }

    @Test func everyStatementCarriesTheNumbersItCameFrom() {
        let days = Self.history((0..<40).map { 200_000 - Decimal($0) * 700 }) {
            $0.customerChurnRate = 0.06
            $0.revenueChurnRate = 0.08
            $0.netRevenueChurnRate = 0.05
            $0.paymentSuccessRate = 0.93
            $0.disputeRate = 0.002
            $0.arpu = 2_000
            $0.ltv = 20_000
        }
        let report = InsightEngine.report(days, currency: "usd")
        let findings =
            report.churnRisk.reasons + report.growthOpportunities + report.pricingSuggestions
            + report.healthScore.components.map(\.basis) + [report.revenuePrediction.explanation]
        #expect(findings.count > 8)
        #expect(findings.allSatisfy { !$0.facts.isEmpty })
        #expect(report.pricingSuggestions.contains { $0.text.contains("about 10 months") })
    }

    @Test func otherCurrenciesStayOutOfTheHeadline() {
        var days = Self.history((0..<20).map { 100_000 + Decimal($0) * 1_000 })
        days += days.map {
            var other = $0
            other.currency = "eur"
            other.mrr = 1
            return other
        }
        #expect(InsightEngine.report(days, currency: "usd").basis.days == 20)
        #expect(InsightEngine.report(days, currency: "usd").revenuePrediction.next30Days?.mrr == 149_000)
    }

    @Test func moneyIsShownInTheCurrencysOwnUnits() {
        #expect(Money(cents: 1_250_000, currency: "usd").formatted == "USD 12,500.00")
        #expect(Money(cents: -5, currency: "eur").formatted == "EUR -0.05")
        #expect(Money(cents: 1_250, currency: "jpy").formatted == "JPY 1,250")
    }
}
