import Foundation

/// What a recurring price charges for a quantity in one billing cycle, as Stripe bills it: per unit (sub-cent unit
/// amounts included), per package (`transform_quantity`), or by tiers, graduated or volume. Exact, in minor units;
/// Stripe rounds only the invoice's total. No I/O.
public enum PriceCharge: Sendable, Equatable {
    /// One band of a tiered price: the units up to `upTo` (nil: every unit beyond the previous band).
    public struct Band: Sendable, Equatable {
        public var upTo: Int?
        public var unitAmount: Decimal
        public var flatAmount: Decimal

        public init(upTo: Int?, unitAmount: Decimal, flatAmount: Decimal = 0) {
            self.upTo = upTo
            self.unitAmount = unitAmount
            self.flatAmount = flatAmount
        }
    }

    case perUnit(Decimal)
    /// `quantity ÷ divideBy` packages, rounded up (or down), each at `unitAmount`.
    case package(unitAmount: Decimal, divideBy: Int, roundUp: Bool)
    /// Each unit at the rate of the band it falls in, plus the flat amount of every band reached.
    case graduated([Band])
    /// Every unit at the rate of the band the whole quantity falls in, plus that band's flat amount.
    case volume([Band])

    public func amount(quantity: Int) -> Decimal {
        guard quantity > 0 else { return 0 }
        switch self {
        case .perUnit(let unit):
            return unit * Decimal(quantity)
        case .package(let unit, let divideBy, let roundUp):
            let size = max(divideBy, 1)
            let packages = roundUp ? (quantity + size - 1) / size : quantity / size
            return unit * Decimal(packages)
        case .graduated(let bands):
            var total = Decimal(0)
            var counted = 0
            for band in bands where counted < quantity {
                let top = min(band.upTo ?? .max, quantity)
                total += band.unitAmount * Decimal(top - counted) + band.flatAmount
                counted = top
            }
            return total
        case .volume(let bands):
            guard let band = bands.first(where: { quantity <= ($0.upTo ?? .max) }) ?? bands.last else { return 0 }
            return band.unitAmount * Decimal(quantity) + band.flatAmount
        }
    }
}
