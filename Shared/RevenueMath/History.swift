import Foundation

/// A subscription over time: when it began counting and when it stopped, and what it is worth while it counts.
public struct SubscriptionHistory: Sendable, Equatable {
    /// The subscription as it stands now.
    public var current: SubscriptionSnapshot
    /// When it started counting (its start, or the end of its trial).
    public var start: Date
    /// When it stopped counting (ended or canceled); nil while it runs.
    public var end: Date?
    /// When a cancellation at period end was asked for (Stripe's `canceled_at` while `ended_at` is still empty): the
    /// subscription counts until its period ends, unless the settings churn it at cancellation.
    public var cancelRequestedAt: Date?
    /// Its items over time, oldest first, as its invoices billed them or a sync saw them: each holds from its date
    /// until the next. Without any, the current items are taken to hold over its whole life.
    public var billed: [BilledPeriod]

    public init(
        current: SubscriptionSnapshot,
        start: Date,
        end: Date?,
        cancelRequestedAt: Date? = nil,
        pastDueSince: Date? = nil,
        billed: [BilledPeriod] = []
    ) {
        self.current = current
        self.start = start
        self.end = end
        self.cancelRequestedAt = cancelRequestedAt
        self.pastDueSince = pastDueSince
        self.billed = billed.sorted { $0.from < $1.from }
    }

    /// Since when it has been past due (for the `pastDueChurnDays` setting); nil unless it is past due now.
    public var pastDueSince: Date?

    /// When it stopped counting under `settings`: its end, the request to cancel when cancellations churn at once, or
    /// the day it had been past due for longer than `pastDueChurnDays`.
    func end(under settings: MetricSettings) -> Date? {
        var end = self.end
        if settings.cancellation == .atCancellation, let cancelRequestedAt { end = min(end ?? cancelRequestedAt, cancelRequestedAt) }
        if current.status == "past_due", let days = settings.pastDueChurnDays, let pastDueSince {
            let churned = pastDueSince.addingTimeInterval(TimeInterval(days + 1) * 86_400)
            end = min(end ?? churned, churned)
        }
        return end
    }

    /// The subscription on a day between its start and its end, with the items it had then. A cancellation asked
    /// for later is not yet in force on such a day.
    func running(with items: [SubscriptionSnapshot.Item]) -> SubscriptionSnapshot {
        var snapshot = current
        snapshot.status = RevenueMath.countingStatuses.contains(current.status) ? current.status : "active"
        snapshot.items = items
        snapshot.cancelAtPeriodEnd = false
        return snapshot
    }
}

/// A subscription's status at a moment, as one of its account's events showed it.
public struct StatusChange: Sendable, Equatable {
    public var at: Date
    public var status: String
    /// The status it had just before, when the event says it changed then (`previous_attributes.status`).
    public var previous: String?

    public init(at: Date, status: String, previous: String? = nil) {
        self.at = at
        self.status = status
        self.previous = previous
    }
}

extension SubscriptionHistory {
    /// When a Stripe subscription stopped counting, when a cancellation at period end was asked for, and since when it
    /// has been past due.
    ///
    /// - Stripe sets `canceled_at` as soon as a cancellation is requested; for `cancel_at_period_end` the subscription
    ///   stays `active` with `ended_at` empty until `current_period_end`, so only `ended_at` (or `canceled_at` of a
    ///   subscription that is `canceled`) ends it.
    /// - `incomplete` and `incomplete_expired` never had a first payment: they never counted.
    /// - `unpaid` and `paused` stopped counting at the moment an event says it left a counting status (Stripe keeps
    ///   30 days of events). Older than that, an `unpaid` one stopped when its last paid period ran out (`paidThrough`)
    ///   and no earlier than the last time it was seen counting (by a sync, `lastSeenCounting`, or in an event); a
    ///   `paused` one is what a trial becomes when it ends without a payment method, and never counted unless seen
    ///   counting. Today's status is never back-filled over the days it was paid for.
    /// - `past_due` since the event that made it so, or else since its oldest invoice left open (`openSince`).
    public static func lifetime(
        status: String,
        start: Date,
        canceledAt: Date?,
        endedAt: Date?,
        cancelAtPeriodEnd: Bool,
        paidThrough: Date? = nil,
        lastSeenCounting: Date? = nil,
        openSince: Date? = nil,
        changes: [StatusChange] = []
    ) -> (end: Date?, cancelRequestedAt: Date?, pastDueSince: Date?) {
        let counting = RevenueMath.countingStatuses
        let sorted = changes.sorted { $0.at < $1.at }
        let seenCounting = ([lastSeenCounting].compactMap { $0 } + sorted.filter { counting.contains($0.status) }.map(\.at)).max()
        // The last time an event saw it leave a counting status, if nothing counted after.
        let stopped = sorted.last { change in
            change.previous.map(counting.contains) == true && !counting.contains(change.status) && change.at >= (seenCounting ?? .distantPast)
        }?.at
        let end: Date?
        switch status {
        case "incomplete", "incomplete_expired": end = start
        case "unpaid": end = endedAt ?? stopped ?? max(start, paidThrough ?? start, seenCounting ?? start)
        case "paused": end = endedAt ?? stopped ?? max(start, seenCounting ?? start)
        case "canceled": end = endedAt ?? canceledAt
        default: end = endedAt
        }
        let becamePastDue = sorted.last { $0.status == "past_due" && $0.previous.map { $0 != "past_due" } == true }?.at
        let pastDueSince = status == "past_due" ? becamePastDue ?? openSince : nil
        return (end, end == nil && cancelAtPeriodEnd ? canceledAt : nil, pastDueSince)
    }
}

/// The recurring items a subscription had from a date on: an invoice's subscription lines, or what a sync saw.
public struct BilledPeriod: Sendable, Equatable {
    public var from: Date
    public var items: [SubscriptionSnapshot.Item]

    public init(from: Date, items: [SubscriptionSnapshot.Item]) {
        self.from = from
        self.items = items
    }
}

/// A subscription's MRR in each state it can be in, worked out once: the daily series then only looks up which
/// state a day falls in.
struct SubscriptionValues {
    let customerID: String
    let currency: String
    let start: Date
    let end: Date?
    /// While it runs, from each billed period's date (the first also covers the days before it).
    let running: [(from: Date, mrr: Decimal)]
    let today: Decimal
    let ended: Decimal

    init(_ history: SubscriptionHistory, settings: MetricSettings, now: Date) {
        customerID = history.current.customerID
        currency = history.current.currency
        start = history.start
        end = history.end(under: settings)
        let periods = history.billed.isEmpty ? [BilledPeriod(from: history.start, items: history.current.items)] : history.billed
        // Its value changes where a billed period begins and where a discount begins or ends; the first period's
        // items also hold before it, back to the start.
        var moments = periods.map(\.from)
        if history.start < moments[0] { moments.insert(history.start, at: 0) }
        let discounts = history.current.discounts + periods.flatMap { $0.items.flatMap(\.discounts) }
        if !discounts.isEmpty {
            moments = Set(moments + discounts.flatMap { [$0.start, $0.end].compactMap { $0 } }.filter { $0 > history.start }).sorted()
        }
        running = moments.map { moment in
            let items = (periods.last { $0.from <= moment } ?? periods[0]).items
            return (moment, RevenueMath.mrr(history.running(with: items), settings: settings, at: moment))
        }
        var current = history.current
        today = RevenueMath.mrr(current, settings: settings, at: now)
        current.status = "canceled"
        ended = RevenueMath.mrr(current, settings: settings, at: now)
    }

    /// Whether it counted with some MRR at any moment before `moment`.
    func hadMRR(before moment: Date) -> Bool {
        guard start < moment, (end ?? .distantFuture) > start else { return false }
        return running.contains { $0.from < moment && $0.mrr > 0 } || (running.first?.mrr ?? 0) > 0
    }

    /// Its MRR at the end of the day ending at `moment`: nothing before its start, canceled from its end, today's
    /// state on the last day, and on any day between, active with the items it had then. Nil before it existed.
    func mrr(at moment: Date, isToday: Bool) -> Decimal? {
        guard moment >= start else { return nil }
        if let end, moment >= end { return ended }
        if isToday { return today }
        return (running.last { $0.from <= moment } ?? running.first)?.mrr ?? 0
    }
}

extension RevenueMath {
    /// Each day's customer MRR, per currency, for the days ending at the given moments (the last is today).
    public static func dailyCustomerMRR(
        _ subscriptions: [SubscriptionHistory],
        days: [Date],
        settings: MetricSettings = MetricSettings()
    ) -> [[String: [String: Decimal]]] {
        let values = subscriptions.map { SubscriptionValues($0, settings: settings, now: days.last ?? Date()) }
        return days.enumerated().map { index, moment in customerMRR(values, at: moment, isToday: index == days.count - 1).mrr }
    }

    /// Customer MRR per currency at one moment, and how many subscriptions count there.
    static func customerMRR(_ values: [SubscriptionValues], at moment: Date, isToday: Bool) -> (
        mrr: [String: [String: Decimal]], active: [String: Int]
    ) {
        var mrr: [String: [String: Decimal]] = [:]
        var active: [String: Int] = [:]
        for value in values {
            guard let amount = value.mrr(at: moment, isToday: isToday), amount > 0 else { continue }
            mrr[value.currency, default: [:]][value.customerID, default: 0] += amount
            active[value.currency, default: 0] += 1
        }
        return (mrr, active)
    }
}

extension RevenueMath {
    public static let windowDays = 30

    /// One row per currency for each of the last `count` UTC calendar days up to the one holding `today`: the day
    /// (its midnight), its `AccountMetrics` over the 30 days ending with it, and its own movements (from the day
    /// before). A day's MRR is its last second's (today's, now's), so the same data gives the same history at any
    /// time of day. Days are computed in order and only one window's worth is kept, so memory does not grow with
    /// `count`; the movements between consecutive days are worked out once and summed per window. `balanced` is false
    /// for a day whose movements do not add up to its change in MRR: a bug to log and count, never a lost day.
    public static func dailyMetrics(
        subscriptions: [SubscriptionHistory],
        charges: [ChargeRecord],
        today: Date,
        count: Int,
        settings: MetricSettings = MetricSettings()
    ) -> [(day: Date, currency: String, metrics: AccountMetrics, movements: Movements, balanced: Bool)] {
        let total = count + windowDays
        let days = calendarDays(endingWith: today, count: total)
        let moments = days.map { min($0.addingTimeInterval(86_399), today) }
        let values = subscriptions.map { SubscriptionValues($0, settings: settings, now: today) }
        let currencies = Set(subscriptions.map(\.current.currency)).union(charges.map(\.currency)).sorted()
        let sortedCharges = charges.sorted { $0.created < $1.created }
        // The window's days, first to today, and the movements between them.
        var window: [(mrr: [String: [String: Decimal]], active: [String: Int])] = []
        var windowMovements: [String: [Movements]] = [:]
        var balancedToday: [String: Bool] = [:]
        // Who had MRR on any earlier day, which tells reactivation from new: from the whole subscription history, not
        // only the days computed here, so a customer back after years is a reactivation (METRICS.md: no time window).
        var everHadMRR: [String: Set<String>] = [:]
        for value in values where value.hadMRR(before: moments[0]) { everHadMRR[value.currency, default: []].insert(value.customerID) }
        var result: [(day: Date, currency: String, metrics: AccountMetrics, movements: Movements, balanced: Bool)] = []
        for index in 0..<total {
            let day = customerMRR(values, at: moments[index], isToday: index == total - 1)
            if let previous = window.last {
                for currency in currencies {
                    let before = previous.mrr[currency] ?? [:]
                    let after = day.mrr[currency] ?? [:]
                    let movements = movements(previous: before, current: after, everHadMRR: everHadMRR[currency] ?? [])
                    balancedToday[currency] = movements.balances(start: before.values.reduce(0, +), end: after.values.reduce(0, +))
                    windowMovements[currency, default: []].append(movements)
                    if windowMovements[currency]!.count > windowDays { windowMovements[currency]!.removeFirst() }
                }
            }
            for (currency, customers) in day.mrr { everHadMRR[currency, default: []].formUnion(customers.keys) }
            window.append(day)
            if window.count > windowDays + 1 { window.removeFirst() }
            guard index >= windowDays else { continue }
            let windowCharges = sortedCharges[
                sortedCharges.firstIndex(after: moments[index - windowDays])..<sortedCharges.firstIndex(after: moments[index])
            ]
            for currency in currencies {
                let metrics = accountMetrics(
                    start: window[0].mrr[currency] ?? [:],
                    today: day.mrr[currency] ?? [:],
                    movements: (windowMovements[currency] ?? []).reduce(Movements(), +),
                    activeSubscriptions: (day.active[currency] ?? 0, window[0].active[currency] ?? 0),
                    charges: windowCharges.filter { $0.currency == currency }
                )
                // The window's sums make the rates; the day's own movements are what the day adds.
                result.append((days[index], currency, metrics, windowMovements[currency]?.last ?? Movements(), balancedToday[currency] ?? true))
            }
        }
        return result
    }
}

extension RevenueMath {
    /// The midnights (UTC) of the `count` calendar days ending with the one holding `moment`, oldest first.
    public static func calendarDays(endingWith moment: Date, count: Int) -> [Date] {
        let seconds = moment.timeIntervalSince1970
        let lastMidnight = (seconds / 86_400).rounded(.down) * 86_400
        return (0..<count).map { Date(timeIntervalSince1970: lastMidnight - Double(count - 1 - $0) * 86_400) }
    }
}

extension [ChargeRecord] {
    /// The index of the first charge made after `moment`, in charges sorted by time.
    func firstIndex(after moment: Date) -> Int {
        var low = startIndex
        var high = endIndex
        while low < high {
            let middle = (low + high) / 2
            if self[middle].created > moment { high = middle } else { low = middle + 1 }
        }
        return low
    }
}
