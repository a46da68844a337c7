import Foundation

/// MRR movements between two consecutive days, by METRICS.md's rules, in minor units.
public struct Movements: Sendable, Equatable {
    public var new: Decimal = 0
    public var reactivation: Decimal = 0
    public var expansion: Decimal = 0
    public var contraction: Decimal = 0
    public var churned: Decimal = 0

    public init() {}

    public static func + (lhs: Movements, rhs: Movements) -> Movements {
        var sum = lhs
        sum.new += rhs.new
        sum.reactivation += rhs.reactivation
        sum.expansion += rhs.expansion
        sum.contraction += rhs.contraction
        sum.churned += rhs.churned
        return sum
    }

    /// `start + new + reactivation + expansion − contraction − churned = end`, exactly.
    public func balances(start: Decimal, end: Decimal) -> Bool {
        start + new + reactivation + expansion - contraction - churned == end
    }
}

extension RevenueMath {
    /// The movements from `previous` to `current` (customer → MRR, one currency). `everHadMRR` is every customer who
    /// had MRR on any earlier day, which tells reactivation from new.
    public static func movements(previous: [String: Decimal], current: [String: Decimal], everHadMRR: Set<String>) -> Movements {
        var movements = Movements()
        for customer in Set(previous.keys).union(current.keys) {
            let before = previous[customer] ?? 0
            let after = current[customer] ?? 0
            switch (before > 0, after > 0) {
            case (false, true):
                if everHadMRR.contains(customer) { movements.reactivation += after } else { movements.new += after }
            case (true, false):
                movements.churned += before
            case (true, true) where after > before:
                movements.expansion += after - before
            case (true, true) where after < before:
                movements.contraction += before - after
            default:
                continue
            }
        }
        return movements
    }

    /// Daily movements over consecutive days of customer MRR (one currency), each checked against the invariant.
    /// `history` is who had MRR before the first day.
    public static func dailyMovements(_ days: [[String: Decimal]], history: Set<String> = []) throws(MovementImbalance) -> [Movements] {
        var seen = history.union((days.first ?? [:]).filter { $0.value > 0 }.keys)
        var result: [Movements] = []
        for (previous, current) in zip(days, days.dropFirst()) {
            result.append(try checkedMovements(previous: previous, current: current, everHadMRR: seen))
            seen.formUnion(current.filter { $0.value > 0 }.keys)
        }
        return result
    }
}

/// A day whose movements do not add up to the change in MRR: a bug, never a rounding matter.
public struct MovementImbalance: Error, Equatable {
    public let start: Decimal
    public let end: Decimal
    public let movements: Movements
}

extension RevenueMath {
    /// The movements from one day to the next, checked against the invariant.
    static func checkedMovements(
        previous: [String: Decimal],
        current: [String: Decimal],
        everHadMRR: Set<String>
    ) throws(MovementImbalance) -> Movements {
        let movements = movements(previous: previous, current: current, everHadMRR: everHadMRR)
        let start = previous.values.reduce(0, +)
        let end = current.values.reduce(0, +)
        guard movements.balances(start: start, end: end) else { throw MovementImbalance(start: start, end: end, movements: movements) }
        return movements
    }
}
