import Contracts
import Foundation
import PlanKit

/// The built-in insight engine: deterministic, from the daily snapshots alone, no I/O. Every verdict names the
/// facts it came from, and the thresholds below are the only judgement in it.
enum InsightEngine {
    /// Fewer daily snapshots than this and a trend is noise: no prediction is made.
    static let minimumPredictionDays = 14

    /// Monthly rates (fractions) at which a churn reason turns medium, then high.
    struct Threshold: Sendable {
        var medium: Decimal
        var high: Decimal
    }
    static let customerChurn = Threshold(medium: 0.03, high: 0.07)
    static let revenueChurn = Threshold(medium: 0.03, high: 0.07)
    /// Lower is worse: below `medium` is medium risk, below `high` is high.
    static let paymentSuccess = Threshold(medium: 0.95, high: 0.90)
    /// Card networks start monitoring merchants at 0.75 % disputes.
    static let disputes = Threshold(medium: 0.004, high: 0.0075)
    /// MRR lost over the window, as a fraction of where it started.
    static let mrrDecline = Threshold(medium: 0.05, high: 0.15)

    static func report(_ snapshots: [MetricsSnapshot], currency: String) -> InsightReport {
        let days = snapshots.filter { $0.currency == currency }.sorted { $0.day < $1.day }
        let window = Window(days: days)
        var limitations: [String] = []
        if days.isEmpty {
            limitations.append("No metrics yet: the connection has no snapshots in \(currency.uppercased()); run a sync first.")
        } else if days.count < minimumPredictionDays {
            limitations.append("Only \(days.count) days of history; a revenue prediction needs at least \(minimumPredictionDays).")
        }
        let health = healthScore(window)
        if !days.isEmpty, health.score == nil { limitations.append("No rate could be scored yet, so there is no health score.") }
        return InsightReport(
            basis: .init(currency: currency, days: days.count, from: days.first?.day, to: days.last?.day),
            revenuePrediction: prediction(days, currency: currency),
            churnRisk: churnRisk(window),
            growthOpportunities: growthOpportunities(window),
            pricingSuggestions: pricingSuggestions(window),
            healthScore: health,
            limitations: limitations
        )
    }

    /// The engine's own prose, used when no model is configured or the model fails.
    static func narrative(_ report: InsightReport) -> InsightNarrative {
        var summary = "\(report.basis.days) days of \(report.basis.currency.uppercased()) metrics: churn risk is \(report.churnRisk.level)"
        if let score = report.healthScore.score { summary += ", health score \(score)/100" }
        summary += "."
        if let next30 = report.revenuePrediction.next30Days {
            summary += " MRR is expected near \(Money(cents: next30.mrr, currency: report.basis.currency).formatted) in 30 days."
        }
        let highlights =
            [report.churnRisk.reasons.first, report.growthOpportunities.first, report.pricingSuggestions.first]
            .compactMap { $0?.text } + report.limitations
        return InsightNarrative(summary: summary, highlights: highlights)
    }

    // MARK: - The window

    /// The latest snapshot and the window's movement sums, which every section reads.
    struct Window {
        var latest: MetricsSnapshot?
        var first: MetricsSnapshot?
        var new: Decimal = 0
        var expansion: Decimal = 0
        var contraction: Decimal = 0
        var churned: Decimal = 0
        var reactivation: Decimal = 0

        init(days: [MetricsSnapshot]) {
            latest = days.last
            first = days.first
            // The first day's movements led up to it; the window's movements are those after its start.
            for day in days.dropFirst() {
                new += day.newMrr
                expansion += day.expansionMrr
                contraction += day.contractionMrr
                churned += day.churnedMrr
                reactivation += day.reactivationMrr
            }
        }

        var currency: String { latest?.currency ?? "usd" }
        var lastDay: String? { latest?.day }

        func money(_ cents: Decimal) -> String { Money(cents: MonthlyRecurring.rounded(cents), currency: currency).formatted }
        func fact(_ metric: String, _ value: Decimal) -> Fact { Fact(metric, value, day: lastDay) }
        func windowFact(_ metric: String, _ value: Decimal) -> Fact { Fact(metric, value, day: first.map { "\($0.day)..\(lastDay ?? $0.day)" }) }
    }

    static func percent(_ fraction: Decimal) -> String {
        "\((fraction * 100).rounded(places: 1))%"
    }

    // MARK: - Revenue prediction

    /// Least-squares line through daily MRR, extended 30 and 90 days; the range is its 95 % prediction interval.
    static func prediction(_ days: [MetricsSnapshot], currency: String) -> InsightReport.RevenuePrediction {
        let method = "least-squares linear trend of daily MRR, extended from the last day; range: 95 % prediction interval"
        guard days.count >= minimumPredictionDays, let first = days.first, let last = days.last else {
            return .init(
                status: "insufficient_history",
                method: method,
                explanation: Finding(
                    text: "Not enough history to predict revenue: \(days.count) of the \(minimumPredictionDays) days needed.",
                    facts: [Fact("snapshot_days", Decimal(days.count))]
                )
            )
        }
        let trend = LinearTrend(days.map(\.mrr))
        func forecast(_ horizon: Int) -> InsightReport.Forecast {
            let (value, halfWidth) = trend.predict(daysAhead: horizon)
            let mrr = MonthlyRecurring.rounded(max(value, 0))
            let spread = MonthlyRecurring.rounded(halfWidth)
            return .init(mrr: mrr, low: max(mrr - spread, 0), high: mrr + spread)
        }
        let next30 = forecast(30)
        let next90 = forecast(90)
        let window = Window(days: days)
        let text =
            "MRR went from \(window.money(first.mrr)) to \(window.money(last.mrr)) over \(days.count) days, "
            + "a trend of \(window.money(trend.slope)) a day; continuing it gives \(Money(cents: next30.mrr, currency: currency).formatted) "
            + "in 30 days and \(Money(cents: next90.mrr, currency: currency).formatted) in 90."
        return .init(
            status: "predicted",
            method: method,
            next30Days: next30,
            next90Days: next90,
            explanation: Finding(
                text: text,
                facts: [Fact("mrr", first.mrr, day: first.day), Fact("mrr", last.mrr, day: last.day), Fact("mrr_trend_per_day", trend.slope)]
            )
        )
    }

    /// Ordinary least squares of values against their day index, exact in `Decimal`.
    struct LinearTrend {
        let count: Decimal
        let meanX: Decimal
        let sxx: Decimal
        let slope: Decimal
        let intercept: Decimal
        let lastX: Decimal
        /// The residuals' standard error.
        let standardError: Decimal

        init(_ values: [Decimal]) {
            count = Decimal(values.count)
            lastX = Decimal(values.count - 1)
            meanX = lastX / 2
            let meanY = values.reduce(0, +) / count
            var sxx: Decimal = 0
            var sxy: Decimal = 0
            for (index, value) in values.enumerated() {
                let dx = Decimal(index) - meanX
                sxx += dx * dx
                sxy += dx * (value - meanY)
            }
            self.sxx = sxx
            slope = sxx == 0 ? 0 : sxy / sxx
            intercept = meanY - slope * meanX
            var squaredResiduals: Decimal = 0
            for (index, value) in values.enumerated() {
                let residual = value - (intercept + slope * Decimal(index))
                squaredResiduals += residual * residual
            }
            standardError = values.count > 2 ? Self.squareRoot(squaredResiduals / (count - 2)) : 0
        }

        /// The line's value `daysAhead` after the last day, and the half-width of its 95 % prediction interval.
        func predict(daysAhead: Int) -> (value: Decimal, halfWidth: Decimal) {
            let x = lastX + Decimal(daysAhead)
            let spread = 1 + 1 / count + (sxx == 0 ? 0 : (x - meanX) * (x - meanX) / sxx)
            return (intercept + slope * x, Decimal(string: "1.96")! * standardError * Self.squareRoot(spread))
        }

        /// Newton's method in `Decimal`, so the statistics never pass through floating point.
        static func squareRoot(_ value: Decimal) -> Decimal {
            guard value > 0 else { return 0 }
            var estimate = value > 1 ? value / 2 : 1
            for _ in 0..<200 {
                let next = (estimate + value / estimate) / 2
                if abs(next - estimate) < Decimal(string: "0.000001")! { return next }
                estimate = next
            }
            return estimate
        }
    }

    // MARK: - Churn risk

    static func churnRisk(_ window: Window) -> InsightReport.ChurnRisk {
        guard let latest = window.latest else { return .init(level: "unknown", reasons: []) }
        var reasons: [(level: Int, finding: Finding)] = []
        func rising(_ value: Decimal?, _ threshold: Threshold, metric: String, describe: (String) -> String) {
            guard let value, value >= threshold.medium else { return }
            reasons.append((value >= threshold.high ? 2 : 1, Finding(text: describe(percent(value)), facts: [window.fact(metric, value)])))
        }
        rising(latest.customerChurnRate, customerChurn, metric: "customer_churn_rate") {
            "\($0) of customers churned in the last 30 days."
        }
        rising(latest.revenueChurnRate, revenueChurn, metric: "revenue_churn_rate") {
            "\($0) of MRR was lost to churn and downgrades in the last 30 days."
        }
        rising(latest.disputeRate, disputes, metric: "dispute_rate") {
            "\($0) of successful charges were disputed; card networks act from 0.75 %."
        }
        if let success = latest.paymentSuccessRate, success < paymentSuccess.medium {
            reasons.append(
                (
                    success < paymentSuccess.high ? 2 : 1,
                    Finding(
                        text: "Only \(percent(success)) of charges succeeded; failed payments turn into involuntary churn.",
                        facts: [window.fact("payment_success_rate", success)]
                    )
                )
            )
        }
        if let net = latest.netRevenueChurnRate, net > 0 {
            reasons.append(
                (
                    1,
                    Finding(
                        text: "Net revenue churn is \(percent(net)): expansion does not make up for what is lost.",
                        facts: [window.fact("net_revenue_churn_rate", net)]
                    )
                )
            )
        }
        if let first = window.first, first.mrr > 0 {
            let decline = (first.mrr - latest.mrr) / first.mrr
            if decline >= mrrDecline.medium {
                reasons.append(
                    (
                        decline >= mrrDecline.high ? 2 : 1,
                        Finding(
                            text: "MRR fell \(percent(decline)) over the window, from \(window.money(first.mrr)) to \(window.money(latest.mrr)).",
                            facts: [Fact("mrr", first.mrr, day: first.day), window.fact("mrr", latest.mrr)]
                        )
                    )
                )
            }
        }
        let known = [latest.customerChurnRate, latest.revenueChurnRate, latest.paymentSuccessRate].compactMap { $0 }
        guard let worst = reasons.map(\.level).max() else {
            guard !known.isEmpty else { return .init(level: "unknown", reasons: []) }
            var facts: [Fact] = []
            if let rate = latest.customerChurnRate { facts.append(window.fact("customer_churn_rate", rate)) }
            if let rate = latest.revenueChurnRate { facts.append(window.fact("revenue_churn_rate", rate)) }
            if let rate = latest.paymentSuccessRate { facts.append(window.fact("payment_success_rate", rate)) }
            return .init(
                level: "low",
                reasons: [Finding(text: "Churn, downgrades and failed payments are all below the warning lines.", facts: facts)]
            )
        }
        let ordered = reasons.sorted { $0.level > $1.level }.map(\.finding)
        return .init(level: worst == 2 ? "high" : "medium", reasons: ordered)
    }

    // MARK: - Growth and pricing

    static func growthOpportunities(_ window: Window) -> [Finding] {
        guard let latest = window.latest else { return [] }
        var findings: [Finding] = []
        if window.new > 0, window.expansion * 4 < window.new {
            findings.append(
                Finding(
                    text: "Upgrades brought \(window.money(window.expansion)) of MRR against \(window.money(window.new)) from new customers: "
                        + "an upgrade path or add-ons for existing customers could grow MRR without new sales.",
                    facts: [window.windowFact("expansion_mrr", window.expansion), window.windowFact("new_mrr", window.new)]
                )
            )
        }
        if window.churned > 0, window.reactivation == 0 {
            findings.append(
                Finding(
                    text:
                        "\(window.money(window.churned)) of MRR churned and none came back: a win-back offer to recently churned customers is untried.",
                    facts: [window.windowFact("churned_mrr", window.churned), window.windowFact("reactivation_mrr", 0)]
                )
            )
        } else if window.reactivation > 0 {
            findings.append(
                Finding(
                    text:
                        "\(window.money(window.reactivation)) of MRR came back from former customers: win-back works and is worth doing on purpose.",
                    facts: [window.windowFact("reactivation_mrr", window.reactivation)]
                )
            )
        }
        if let success = latest.paymentSuccessRate, success < 1 - (1 - paymentSuccess.medium) / 2 {
            findings.append(
                Finding(
                    text: "\(percent(1 - success)) of charges fail: retrying failed cards and reminding customers to update them recovers revenue.",
                    facts: [window.fact("payment_success_rate", success), window.fact("total_revenue", Decimal(latest.totalRevenue))]
                )
            )
        }
        if findings.isEmpty {
            findings.append(Finding(text: "No growth lever stands out in these numbers.", facts: [window.fact("mrr", latest.mrr)]))
        }
        return findings
    }

    static func pricingSuggestions(_ window: Window) -> [Finding] {
        guard let latest = window.latest else { return [] }
        var findings: [Finding] = []
        if window.contraction > window.expansion {
            findings.append(
                Finding(
                    text: "Downgrades (\(window.money(window.contraction))) outweigh upgrades (\(window.money(window.expansion))): "
                        + "the lower plans may give away what the higher ones sell.",
                    facts: [window.windowFact("contraction_mrr", window.contraction), window.windowFact("expansion_mrr", window.expansion)]
                )
            )
        }
        if let ltv = latest.ltv, let arpu = latest.arpu, arpu > 0, ltv < 12 * arpu {
            let months = MonthlyRecurring.rounded(ltv / arpu)
            findings.append(
                Finding(
                    text: "A customer stays about \(months) months (LTV \(window.money(ltv)) at ARPU \(window.money(arpu))): "
                        + "discounted annual plans would keep revenue longer.",
                    facts: [window.fact("ltv", ltv), window.fact("arpu", arpu)]
                )
            )
        }
        if let churn = latest.customerChurnRate, churn < customerChurn.medium, let arpu = latest.arpu {
            findings.append(
                Finding(
                    text:
                        "Customer churn is low at \(percent(churn)) with ARPU \(window.money(arpu)): a higher price for new sign-ups is a low-risk test.",
                    facts: [window.fact("customer_churn_rate", churn), window.fact("arpu", arpu)]
                )
            )
        }
        if findings.isEmpty {
            findings.append(Finding(text: "These numbers do not point to a pricing change.", facts: [window.fact("mrr", latest.mrr)]))
        }
        return findings
    }

    // MARK: - Health score

    /// Components scored 0–100 on a straight line between a worst and a best value; those without data are left out
    /// and the others' weights carry the score.
    static func healthScore(_ window: Window) -> InsightReport.HealthScore {
        guard let latest = window.latest else { return .init(score: nil, components: []) }
        var components: [InsightReport.HealthComponent] = []
        func add(_ name: String, weight: Int, _ value: Decimal?, worst: Decimal, best: Decimal, metric: String, describe: (Decimal) -> String) {
            guard let value else { return }
            let position = (value - worst) / (best - worst)
            let score = MonthlyRecurring.rounded(min(max(position, 0), 1) * 100)
            components.append(
                .init(name: name, score: Int(score), weight: weight, basis: Finding(text: describe(value), facts: [window.fact(metric, value)]))
            )
        }
        let growth: Decimal? = window.first.flatMap { $0.mrr > 0 ? (latest.mrr - $0.mrr) / $0.mrr : nil }
        add("growth", weight: 25, growth, worst: -0.10, best: 0.10, metric: "mrr_change") {
            "MRR changed \(percent($0)) over the window (−10 % scores 0, +10 % scores 100)."
        }
        add("retention", weight: 30, latest.customerChurnRate, worst: 0.10, best: 0, metric: "customer_churn_rate") {
            "Customer churn \(percent($0)) (10 % scores 0, none scores 100)."
        }
        add("net_revenue_retention", weight: 20, latest.netRevenueChurnRate, worst: 0.10, best: -0.05, metric: "net_revenue_churn_rate") {
            "Net revenue churn \(percent($0)) (+10 % scores 0, −5 % scores 100)."
        }
        add("payments", weight: 15, latest.paymentSuccessRate, worst: 0.85, best: 0.99, metric: "payment_success_rate") {
            "Payment success \(percent($0)) (85 % scores 0, 99 % scores 100)."
        }
        add("disputes", weight: 10, latest.disputeRate, worst: 0.01, best: 0, metric: "dispute_rate") {
            "Disputes \(percent($0)) of charges (1 % scores 0, none scores 100)."
        }
        let weights = components.reduce(0) { $0 + $1.weight }
        guard weights > 0 else { return .init(score: nil, components: []) }
        let weighted = components.reduce(Decimal(0)) { $0 + Decimal($1.score * $1.weight) }
        return .init(score: Int(MonthlyRecurring.rounded(weighted / Decimal(weights))), components: components)
    }
}
