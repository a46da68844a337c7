import Foundation

/// A number a statement rests on: the metric, its value and the day it was read (money in minor units, rates as
/// fractions, exactly as the snapshots hold them).
struct Fact: Codable, Sendable, Equatable {
    var metric: String
    var value: Decimal
    var day: String?

    init(_ metric: String, _ value: Decimal, day: String? = nil) {
        self.metric = metric
        self.value = value
        self.day = day
    }
}

/// A statement and the facts it came from, so a reader can check it against the metrics.
struct Finding: Codable, Sendable, Equatable {
    var text: String
    var facts: [Fact]
}

/// What the built-in engine concludes from a connection's daily snapshots.
struct InsightReport: Codable, Sendable, Equatable {
    struct Basis: Codable, Sendable, Equatable {
        var currency: String
        var days: Int
        var from: String?
        var to: String?
    }

    struct Forecast: Codable, Sendable, Equatable {
        /// MRR in minor units, rounded to the unit, with the 95 % prediction interval.
        var mrr: Int64
        var low: Int64
        var high: Int64
    }

    struct RevenuePrediction: Codable, Sendable, Equatable {
        /// `predicted`, or `insufficient_history` with no numbers.
        var status: String
        var method: String
        var next30Days: Forecast?
        var next90Days: Forecast?
        var explanation: Finding
    }

    struct ChurnRisk: Codable, Sendable, Equatable {
        /// `low`, `medium`, `high`, or `unknown` when no rate is known yet.
        var level: String
        var reasons: [Finding]
    }

    struct HealthComponent: Codable, Sendable, Equatable {
        var name: String
        var score: Int
        var weight: Int
        var basis: Finding
    }

    struct HealthScore: Codable, Sendable, Equatable {
        /// 0–100, the weighted mean of the components that could be scored; nil when none could.
        var score: Int?
        var components: [HealthComponent]
    }

    var basis: Basis
    var revenuePrediction: RevenuePrediction
    var churnRisk: ChurnRisk
    var growthOpportunities: [Finding]
    var pricingSuggestions: [Finding]
    var healthScore: HealthScore
    /// What the engine could not say, and why.
    var limitations: [String]
}

/// The prose that goes with a report: written by the model when one is configured, else by the engine.
struct InsightNarrative: Codable, Sendable, Equatable {
    var summary: String
    var highlights: [String]
}
