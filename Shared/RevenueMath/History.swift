import Foundation

/// A subscription over time: when it began counting and when it stopped, and what it is worth while it counts.
public struct SubscriptionHistory: Sendable, Equatable {
    /// The subscription as it stands now; its items and discount are taken to hold over its whole life.
    public var current: SubscriptionSnapshot
    /// When it started counting (its start, or the end of its trial).
    public var start: Date
    /// When it stopped counting (ended or canceled); nil while it runs.
    public var end: Date?

    public init(current: SubscriptionSnapshot, start: Date, end: Date?) {
        self.current = current
        self.start = start
        self.end = end
    }

    /// The subscription as it stood at the end of `day`: before its start it did not exist, after its end it is
    /// canceled, the last day is today's state, and any day between counts it as active.
    func snapshot(at moment: Date, isToday: Bool) -> SubscriptionSnapshot? {
        guard moment >= start else { return nil }
        var snapshot = current
        if let end, moment >= end {
            snapshot.status = "canceled"
        } else if !isToday {
            snapshot.status = RevenueMath.countingStatuses.contains(current.status) ? current.status : "active"
        }
        return snapshot
    }
}

extension RevenueMath {
    /// Each day's customer MRR, per currency, for the days ending at the given moments (the last is today).
    public static func dailyCustomerMRR(
        _ subscriptions: [SubscriptionHistory],
        days: [Date],
        settings: MetricSettings = MetricSettings()
    ) -> [[String: [String: Decimal]]] {
        days.enumerated().map { index, moment in
            customerMRR(subscriptions.compactMap { $0.snapshot(at: moment, isToday: index == days.count - 1) }, settings: settings)
        }
    }
}

extension RevenueMath {
    public static let windowDays = 30

    /// One `AccountMetrics` per currency for each of the last `count` days ending at `today`, each over the 30 days
    /// before it. `history` reaches back far enough that every window starts with real data.
    public static func dailyMetrics(
        subscriptions: [SubscriptionHistory],
        charges: [ChargeRecord],
        today: Date,
        count: Int,
        settings: MetricSettings = MetricSettings()
    ) throws(MovementImbalance) -> [(day: Date, currency: String, metrics: AccountMetrics)] {
        let day: TimeInterval = 86_400
        let total = count + windowDays
        let moments = (0..<total).map { today.addingTimeInterval(-Double(total - 1 - $0) * day) }
        let series = dailyCustomerMRR(subscriptions, days: moments, settings: settings)
        let activeCounts: [[String: Int]] = moments.enumerated().map { index, moment in
            var counts: [String: Int] = [:]
            for subscription in subscriptions {
                guard let snapshot = subscription.snapshot(at: moment, isToday: index == total - 1), mrr(snapshot, settings: settings) > 0 else { continue }
                counts[snapshot.currency, default: 0] += 1
            }
            return counts
        }
        let currencies = Set(subscriptions.map(\.current.currency)).union(charges.map(\.currency)).sorted()
        let sortedCharges = charges.sorted { $0.created < $1.created }
        var result: [(day: Date, currency: String, metrics: AccountMetrics)] = []
        // Who had MRR before each window begins, grown a day at a time as the window slides.
        var earlierByCurrency: [String: Set<String>] = [:]
        for index in windowDays..<total {
            if index - windowDays - 1 >= 0 {
                for (currency, customers) in series[index - windowDays - 1] {
                    earlierByCurrency[currency, default: []].formUnion(customers.filter { $0.value > 0 }.keys)
                }
            }
            let windowStart = moments[index - windowDays]
            let windowCharges = sortedCharges.filter { $0.created > windowStart && $0.created <= moments[index] }
            for currency in currencies {
                let days = (index - windowDays...index).map { series[$0][currency] ?? [:] }
                let earlier = earlierByCurrency[currency] ?? []
                let metrics = try accountMetrics(
                    days: days,
                    history: earlier,
                    activeSubscriptions: (activeCounts[index][currency] ?? 0, activeCounts[index - windowDays][currency] ?? 0),
                    charges: windowCharges.filter { $0.currency == currency }
                )
                result.append((moments[index], currency, metrics))
            }
        }
        return result
    }
}
