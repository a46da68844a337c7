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

/// A subscription's MRR in each state it can be in, worked out once in millionths of a minor unit (its exact scale,
/// `RevenueMath.mrrScale`): the daily series then only looks up which state a day falls in, and adds integers.
struct SubscriptionValues {
    let customerID: String
    let currency: String
    let start: Date
    let end: Date?
    /// While it runs, from each billed period's date (the first also covers the days before it).
    let running: [(from: Date, mrr: Int128)]
    let today: Int128
    let ended: Int128

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
            return (moment, RevenueMath.microUnits(RevenueMath.mrr(history.running(with: items), settings: settings, at: moment)))
        }
        var current = history.current
        today = RevenueMath.microUnits(RevenueMath.mrr(current, settings: settings, at: now))
        current.status = "canceled"
        ended = RevenueMath.microUnits(RevenueMath.mrr(current, settings: settings, at: now))
    }

    /// Whether it counted with some MRR at any moment before `moment`.
    func hadMRR(before moment: Date) -> Bool {
        guard start < moment, (end ?? .distantFuture) > start else { return false }
        return running.contains { $0.from < moment && $0.mrr > 0 } || (running.first?.mrr ?? 0) > 0
    }

    /// Its MRR at the end of the day ending at `moment`: nothing before its start, canceled from its end, today's
    /// state on the last day, and on any day between, active with the items it had then. Nil before it existed.
    func mrr(at moment: Date, isToday: Bool) -> Int128? {
        guard moment >= start else { return nil }
        if let end, moment >= end { return ended }
        if isToday { return today }
        return (running.last { $0.from <= moment } ?? running.first)?.mrr ?? 0
    }
}

extension RevenueMath {
    /// An MRR (exact at `mrrScale` places) in millionths of a minor unit.
    static func microUnits(_ amount: Decimal) -> Int128 {
        Int128((amount * 1_000_000).description) ?? 0
    }

    /// Millionths of a minor unit as a `Decimal` of minor units, exactly.
    static func decimal(microUnits: Int128) -> Decimal {
        let magnitude = microUnits.magnitude
        let significand = magnitude <= UInt64.max ? Decimal(UInt64(magnitude)) : Decimal(string: String(magnitude)) ?? 0
        return Decimal(sign: microUnits < 0 ? .minus : .plus, exponent: -mrrScale, significand: significand)
    }

    /// Each day's customer MRR, per currency, for the days ending at the given moments (the last is today).
    public static func dailyCustomerMRR(
        _ subscriptions: [SubscriptionHistory],
        days: [Date],
        settings: MetricSettings = MetricSettings()
    ) -> [[String: [String: Decimal]]] {
        let values = subscriptions.map { SubscriptionValues($0, settings: settings, now: days.last ?? Date()) }
        return days.enumerated().map { index, moment in
            var mrr: [String: [String: Decimal]] = [:]
            for value in values {
                guard let amount = value.mrr(at: moment, isToday: index == days.count - 1), amount > 0 else { continue }
                mrr[value.currency, default: [:]][value.customerID, default: 0] += decimal(microUnits: amount)
            }
            return mrr
        }
    }
}

/// One day's movements in millionths of a minor unit, so a window's sums roll exactly: add the day that enters,
/// subtract the one that leaves.
struct DayMovements {
    var new: Int128 = 0
    var reactivation: Int128 = 0
    var expansion: Int128 = 0
    var contraction: Int128 = 0
    var churned: Int128 = 0

    static func + (lhs: Self, rhs: Self) -> Self {
        Self(
            new: lhs.new + rhs.new,
            reactivation: lhs.reactivation + rhs.reactivation,
            expansion: lhs.expansion + rhs.expansion,
            contraction: lhs.contraction + rhs.contraction,
            churned: lhs.churned + rhs.churned
        )
    }

    static func - (lhs: Self, rhs: Self) -> Self {
        Self(
            new: lhs.new - rhs.new,
            reactivation: lhs.reactivation - rhs.reactivation,
            expansion: lhs.expansion - rhs.expansion,
            contraction: lhs.contraction - rhs.contraction,
            churned: lhs.churned - rhs.churned
        )
    }

    var decimal: Movements {
        var movements = Movements()
        movements.new = RevenueMath.decimal(microUnits: new)
        movements.reactivation = RevenueMath.decimal(microUnits: reactivation)
        movements.expansion = RevenueMath.decimal(microUnits: expansion)
        movements.contraction = RevenueMath.decimal(microUnits: contraction)
        movements.churned = RevenueMath.decimal(microUnits: churned)
        return movements
    }

    /// The movements from one day's MRR by customer number to the next's, by METRICS.md's rules; `everHadMRR` tells
    /// reactivation from new and learns who has MRR now.
    init(previous: [Int128], current: [Int128], everHadMRR: inout [Bool]) {
        for customer in current.indices {
            let before = previous[customer]
            let after = current[customer]
            if before == 0, after > 0 {
                if everHadMRR[customer] { reactivation += after } else { new += after }
                everHadMRR[customer] = true
            } else if before > 0, after == 0 {
                churned += before
            } else if after > before {
                expansion += after - before
            } else if after < before {
                contraction += before - after
            }
        }
    }

    init(new: Int128 = 0, reactivation: Int128 = 0, expansion: Int128 = 0, contraction: Int128 = 0, churned: Int128 = 0) {
        self.new = new
        self.reactivation = reactivation
        self.expansion = expansion
        self.contraction = contraction
        self.churned = churned
    }
}

extension RevenueMath {
    public static let windowDays = 30

    /// One row per currency for each of the last `count` UTC calendar days up to the one holding `today`: the day
    /// (its midnight), its `AccountMetrics` over the 30 days ending with it, and its own movements (from the day
    /// before). A day's MRR is its last second's (today's, now's), so the same data gives the same history at any
    /// time of day. `balanced` is false for a day whose movements do not add up to its change in MRR: a bug to log
    /// and count, never a lost day.
    public static func dailyMetrics(
        subscriptions: [SubscriptionHistory],
        charges: [ChargeRecord],
        today: Date,
        count: Int,
        settings: MetricSettings = MetricSettings()
    ) -> [(day: Date, currency: String, metrics: AccountMetrics, movements: Movements, balanced: Bool)] {
        let days = calendarDays(endingWith: today, count: count + windowDays)
        let moments = days.map { min($0.addingTimeInterval(86_399), today) }
        let values = Dictionary(grouping: subscriptions.map { SubscriptionValues($0, settings: settings, now: today) }, by: \.currency)
        let charges = Dictionary(grouping: charges.sorted { $0.created < $1.created }, by: \.currency)
        let currencies = Set(values.keys).union(charges.keys).sorted()
        let byCurrency = currencies.map { dailyMetrics(values[$0] ?? [], charges: charges[$0] ?? [], moments: moments) }
        return (0..<count).flatMap { index in
            zip(currencies, byCurrency).map { currency, rows in
                (days[windowDays + index], currency, rows[index].metrics, rows[index].movements, rows[index].balanced)
            }
        }
    }

    /// One currency's rows, for the moments after the first `windowDays`. Customers are numbered, so a day is an array
    /// of MRR by customer number; the window's 31 days are kept in a ring, and its movements summed as they roll.
    static func dailyMetrics(
        _ values: [SubscriptionValues],
        charges: [ChargeRecord],
        moments: [Date]
    ) -> [(metrics: AccountMetrics, movements: Movements, balanced: Bool)] {
        var numbers: [String: Int] = [:]
        let customers = values.map { value in
            if let number = numbers[value.customerID] { return number }
            numbers[value.customerID] = numbers.count
            return numbers.count - 1
        }
        // Who had MRR before the first day, which tells reactivation from new: from the whole subscription history,
        // so a customer back after years is a reactivation (METRICS.md: no time window).
        var everHadMRR = [Bool](repeating: false, count: numbers.count)
        for (value, customer) in zip(values, customers) where value.hadMRR(before: moments[0]) { everHadMRR[customer] = true }
        var ring = [[Int128]](repeating: [Int128](repeating: 0, count: numbers.count), count: windowDays + 1)
        var activeRing = [Int](repeating: 0, count: windowDays + 1)
        var movementRing = [DayMovements](repeating: DayMovements(), count: windowDays)
        var windowMovements = DayMovements()
        var result: [(metrics: AccountMetrics, movements: Movements, balanced: Bool)] = []
        for index in moments.indices {
            let slot = index % (windowDays + 1)
            var mrr = [Int128](repeating: 0, count: numbers.count)
            var active = 0
            for (value, customer) in zip(values, customers) {
                guard let amount = value.mrr(at: moments[index], isToday: index == moments.count - 1), amount > 0 else { continue }
                mrr[customer] += amount
                active += 1
            }
            var day = DayMovements()
            var balanced = true
            if index > 0 {
                let previous = ring[(index - 1) % (windowDays + 1)]
                day = DayMovements(previous: previous, current: mrr, everHadMRR: &everHadMRR)
                let start = previous.reduce(0, +)
                balanced = start + day.new + day.reactivation + day.expansion - day.contraction - day.churned == mrr.reduce(0, +)
                windowMovements = windowMovements + day - movementRing[index % windowDays]
                movementRing[index % windowDays] = day
            } else {
                for customer in mrr.indices where mrr[customer] > 0 { everHadMRR[customer] = true }
            }
            ring[slot] = mrr
            activeRing[slot] = active
            guard index >= windowDays else { continue }
            let startSlot = (index - windowDays) % (windowDays + 1)
            let start = ring[startSlot]
            let totals = WindowTotals(
                mrr: decimal(microUnits: mrr.reduce(0, +)),
                startMRR: decimal(microUnits: start.reduce(0, +)),
                customers: mrr.count(where: { $0 > 0 }),
                startCustomers: start.count(where: { $0 > 0 }),
                lostCustomers: zip(start, mrr).count(where: { $0 > 0 && $1 == 0 })
            )
            let windowCharges = charges[charges.firstIndex(after: moments[index - windowDays])..<charges.firstIndex(after: moments[index])]
            let metrics = accountMetrics(
                totals,
                movements: windowMovements.decimal,
                activeSubscriptions: (active, activeRing[startSlot]),
                charges: windowCharges
            )
            result.append((metrics, day.decimal, balanced))
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
