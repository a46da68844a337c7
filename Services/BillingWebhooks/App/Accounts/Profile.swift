import Foundation
import Hummingbird
import PlanKit

/// A user's account as the seed's `user_profiles` row describes it; unlimited limits are `null`.
public struct Profile: Codable, Sendable, Equatable, ResponseEncodable {
    public var id: String
    public var email: String?
    public var subscriptionTier: Tier
    public var subscriptionStatus: String
    public var stripeCustomerID: String?
    public var stripeSubscriptionID: String?
    public var subscriptionCurrentPeriodEnd: Date?
    public var limits: TierLimits
    public var createdAt: Date
    public var updatedAt: Date
    /// Another user passes this code at checkout to be referred by this one.
    public var referralCode: String?
    /// The commission rate this user earns on referred users' payments.
    public var partnerLevel: String

    enum CodingKeys: String, CodingKey {
        case id, email
        case subscriptionTier = "subscription_tier"
        case subscriptionStatus = "subscription_status"
        case stripeCustomerID = "stripe_customer_id"
        case stripeSubscriptionID = "stripe_subscription_id"
        case subscriptionCurrentPeriodEnd = "subscription_current_period_end"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case referralCode = "referral_code"
        case partnerLevel = "partner_level"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        id = try container.decode(String.self, forKey: .id)
        email = try container.decodeIfPresent(String.self, forKey: .email)
        subscriptionTier = try container.decode(Tier.self, forKey: .subscriptionTier)
        subscriptionStatus = try container.decode(String.self, forKey: .subscriptionStatus)
        stripeCustomerID = try container.decodeIfPresent(String.self, forKey: .stripeCustomerID)
        stripeSubscriptionID = try container.decodeIfPresent(String.self, forKey: .stripeSubscriptionID)
        subscriptionCurrentPeriodEnd = try container.decodeIfPresent(Date.self, forKey: .subscriptionCurrentPeriodEnd)
        limits = try TierLimits(from: decoder)
        createdAt = try container.decode(Date.self, forKey: .createdAt)
        updatedAt = try container.decode(Date.self, forKey: .updatedAt)
        referralCode = try container.decodeIfPresent(String.self, forKey: .referralCode)
        partnerLevel = try container.decode(String.self, forKey: .partnerLevel)
    }

    init(
        id: String,
        email: String?,
        subscriptionTier: Tier,
        subscriptionStatus: String,
        stripeCustomerID: String?,
        stripeSubscriptionID: String?,
        subscriptionCurrentPeriodEnd: Date?,
        limits: TierLimits,
        createdAt: Date,
        updatedAt: Date,
        referralCode: String?,
        partnerLevel: String
    ) {
        self.id = id
        self.email = email
        self.subscriptionTier = subscriptionTier
        self.subscriptionStatus = subscriptionStatus
        self.stripeCustomerID = stripeCustomerID
        self.stripeSubscriptionID = stripeSubscriptionID
        self.subscriptionCurrentPeriodEnd = subscriptionCurrentPeriodEnd
        self.limits = limits
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.referralCode = referralCode
        self.partnerLevel = partnerLevel
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(email, forKey: .email)
        try container.encode(subscriptionTier, forKey: .subscriptionTier)
        try container.encode(subscriptionStatus, forKey: .subscriptionStatus)
        try container.encode(stripeCustomerID, forKey: .stripeCustomerID)
        try container.encode(stripeSubscriptionID, forKey: .stripeSubscriptionID)
        try container.encode(subscriptionCurrentPeriodEnd, forKey: .subscriptionCurrentPeriodEnd)
        try limits.encode(to: encoder)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
        try container.encode(referralCode, forKey: .referralCode)
        try container.encode(partnerLevel, forKey: .partnerLevel)
    }
}
