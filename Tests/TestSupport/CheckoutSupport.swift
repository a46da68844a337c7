import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Sandbox
import StripeKit

extension TestSupport {
    /// Buys `plan` through the gateway and pays on the sandbox's checkout page, as a user would; the sandbox has
    /// delivered Stripe's events when this returns. Returns the subscription id.
    public static func upgrade(
        gateway: any TestClientProtocol,
        stripe: any TestClientProtocol,
        sandbox: Sandbox,
        token: String,
        plan: String,
        referralCode: String? = nil
    ) async throws -> String {
        let referral = referralCode.map { #","referralCode":"\#($0)""# } ?? ""
        let response = try await gateway.execute(
            uri: "/api/create-checkout",
            method: .post,
            headers: [.authorization: "Bearer \(token)", .contentType: "application/json"],
            body: ByteBuffer(string: #"{"plan":"\#(plan)"\#(referral)}"#)
        )
        guard response.status == .ok, let session = try? JSONDecoder().decode([String: String].self, from: Data(buffer: response.body)),
            let url = session["url"].flatMap(URL.init(string:))
        else { throw CheckoutFailed(status: Int(response.status.code), body: String(buffer: response.body)) }
        let paid = try await stripe.execute(uri: url.path, method: .post)
        guard paid.status == .seeOther else { throw CheckoutFailed(status: Int(paid.status.code), body: String(buffer: paid.body)) }
        let created = sandbox.stripe.sentEvents.last { $0.type == "customer.subscription.created" }
        guard let id = created.flatMap({ try? Event.decode(Data($0.payload.utf8)).object(as: Subscription.self).id }) else {
            throw CheckoutFailed(status: 0, body: "no subscription was created")
        }
        return id
    }
}

public struct CheckoutFailed: Error, CustomStringConvertible {
    public let status: Int
    public let body: String
    public var description: String { "checkout failed with \(status): \(body)" }
}
