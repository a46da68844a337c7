import Foundation
import PlanKit
import ServiceKit

/// Partner levels and the share of a referred user's payments each earns. No I/O.
public enum PartnerLevel: String, Codable, CaseIterable, Sendable {
    case member
    case reseller
    case proReseller = "pro_reseller"
}

public struct CommissionRates: Sendable, Equatable {
    /// Whole percents by level.
    public var percent: [PartnerLevel: Int] = [.member: 20, .reseller: 30, .proReseller: 40]

    public init(percent: [PartnerLevel: Int] = [.member: 20, .reseller: 30, .proReseller: 40]) {
        self.percent = percent
    }

    /// The commission on a payment, in the payment's currency, rounded half up to the cent.
    public func commission(on payment: Money, level: PartnerLevel) -> Money {
        let rate = Decimal(percent[level] ?? 0) / 100
        return Money(cents: MonthlyRecurring.rounded(Decimal(payment.amountCents) * rate), currency: payment.currency)
    }
}

/// Referral codes: ten characters without the ones people misread (0/O, 1/I).
enum ReferralCode {
    static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    static func generate() -> String { String((0..<10).map { _ in alphabet.randomElement()! }) }

    static func normalized(_ code: String) -> String? {
        let upper = code.trimmingCharacters(in: .whitespaces).uppercased()
        guard upper.count == 10, upper.allSatisfy(alphabet.contains) else { return nil }
        return upper
    }
}

extension Identity {
    /// The role kept on the profile: `admin` or `user`.
    var profileRole: String { role == .admin ? "admin" : "user" }
}
