import Crypto
import Foundation
import ServiceKit

/// Stripe's webhook signature scheme: `Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">[,v1=…]`.
public enum StripeWebhookSignature {
    public static let defaultTolerance: TimeInterval = 300

    public enum Failure: Error, Equatable {
        case malformedHeader
        case noSignature
        case timestampOutsideTolerance
        case signatureMismatch
    }

    /// The header Stripe would send for `payload` signed at `timestamp`.
    public static func header(for payload: some DataProtocol, secret: String, timestamp: Date) -> String {
        let seconds = Int(timestamp.timeIntervalSince1970)
        let code = HMAC<SHA256>.authenticationCode(for: signedPayload(payload, seconds: seconds), using: SymmetricKey(data: Data(secret.utf8)))
        return "t=\(seconds),v1=\(Data(code).hexString)"
    }

    /// Accepts the payload when any `v1` signature matches (constant-time) and the timestamp is within `tolerance` of `now`.
    public static func verify(
        payload: some DataProtocol,
        header: String,
        secret: String,
        tolerance: TimeInterval = defaultTolerance,
        now: Date = Date()
    ) throws(Failure) {
        var timestamp: Int?
        var signatures: [Data] = []
        for element in header.split(separator: ",") {
            let pair = element.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2 else { throw .malformedHeader }
            switch pair[0] {
            case "t":
                guard let value = Int(pair[1]) else { throw .malformedHeader }
                timestamp = value
            case "v1":
                // A v1 that is not hex cannot match; it is skipped as Stripe's libraries do.
                if let signature = Data(hex: pair[1]) { signatures.append(signature) }
            default:
                continue
            }
        }
        guard let timestamp else { throw .malformedHeader }
        guard !signatures.isEmpty else { throw .noSignature }
        guard abs(now.timeIntervalSince1970 - TimeInterval(timestamp)) <= tolerance else { throw .timestampOutsideTolerance }
        let key = SymmetricKey(data: Data(secret.utf8))
        let signed = signedPayload(payload, seconds: timestamp)
        guard signatures.contains(where: { HMAC<SHA256>.isValidAuthenticationCode($0, authenticating: signed, using: key) }) else {
            throw .signatureMismatch
        }
    }

    private static func signedPayload(_ payload: some DataProtocol, seconds: Int) -> Data {
        var data = Data("\(seconds).".utf8)
        data.append(contentsOf: payload)
        return data
    }
}
