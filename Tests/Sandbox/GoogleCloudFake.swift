import Foundation
import HTTPTypes
import Hummingbird
import JWTKit
import NIOCore
import Synchronization

/// Google's OAuth token endpoint for service accounts (`POST /token`, the JWT-bearer grant, the assertion's RS256
/// signature checked against the account's key) and Cloud Monitoring's `projects.timeSeries.list` for the CPU
/// utilization of a project's instances, aligned per hour, paged by `pageToken`.
public final class GoogleCloudFake: Sendable {
    public struct Instance: Sendable, Equatable {
        public var id: String
        public var name: String
    }

    public struct Project: Sendable {
        public var id: String
        public var clientEmail: String
        public var instances: [Instance]
        let key: JWTKit.Insecure.RSA.PrivateKey
        let pem: String
    }

    private struct State {
        var projects: [String: Project] = [:]
        var tokens: [String: String] = [:]
    }
    private let state = Mutex(State())

    init() {}

    /// A project with `instances` instances and a service account signing with `keyPEM`.
    @discardableResult
    public func addProject(id: String, instances: Int, keyPEM: String = SandboxKeys.first) throws -> Project {
        let project = Project(
            id: id,
            clientEmail: "monitor@\(id).iam.gserviceaccount.com",
            instances: (0..<instances).map { Instance(id: String(4_000_000_000 + $0), name: "vm-\($0 + 1)") },
            key: try JWTKit.Insecure.RSA.PrivateKey(pem: keyPEM),
            pem: keyPEM
        )
        state.withLock { $0.projects[id] = project }
        return project
    }

    /// The key file Google would let one download for the project's service account.
    public func keyFile(for project: Project, tokenURL: String) -> String {
        let file: [String: String] = [
            "type": "service_account", "project_id": project.id, "private_key_id": "k1", "private_key": project.pem,
            "client_email": project.clientEmail, "token_uri": tokenURL,
        ]
        return String(decoding: try! JSONSerialization.data(withJSONObject: file), as: UTF8.self)
    }

    /// The CPU share (0–1) an instance averages in the hour starting at `hour` (Unix seconds ÷ 3600).
    public static func utilization(instance: String, hour: Int64) -> Decimal {
        Decimal((Int64(instance)! &* 13 &+ hour &* 7) % 90 + 3) / 100
    }

    struct Assertion: JWTPayload {
        var iss: String
        var scope: String
        var aud: String
        var iat: Int
        var exp: Int
        func verify(using algorithm: some JWTAlgorithm) async throws {
            guard Double(exp) > Date().timeIntervalSince1970 else { throw JWTError.claimVerificationFailure(failedClaim: nil, reason: "expired") }
        }
    }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.post("/token") { request, _ in
            var request = request
            let form = String(buffer: try await request.collectBody(upTo: 1 << 16))
            var fields: [String: String] = [:]
            for pair in form.split(separator: "&") {
                let parts = pair.split(separator: "=", maxSplits: 1).map { String($0).removingPercentEncoding ?? String($0) }
                if parts.count == 2 { fields[parts[0]] = parts[1] }
            }
            func refuse(_ description: String) throws -> Response {
                try jsonResponse(["error": "invalid_grant", "error_description": description], status: .badRequest)
            }
            guard fields["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer", let assertion = fields["assertion"] else {
                return try jsonResponse(["error": "unsupported_grant_type", "error_description": "Invalid grant_type"], status: .badRequest)
            }
            let unverified = unverifiedClaims(of: assertion, as: Assertion.self)
            guard let claims = unverified, let project = self.state.withLock({ $0.projects.values.first { $0.clientEmail == claims.iss } }) else {
                return try refuse("Invalid JWT: no such service account")
            }
            let keys = JWTKeyCollection()
            await keys.add(rsa: project.key, digestAlgorithm: .sha256)
            guard (try? await keys.verify(assertion, as: Assertion.self)) != nil else { return try refuse("Invalid JWT Signature.") }
            guard claims.scope.contains("monitoring") else { return try refuse("Invalid scope") }
            let token = "ya29.sandbox-" + UUID().uuidString
            self.state.withLock { $0.tokens[token] = project.id }
            return try jsonResponse(["access_token": token, "token_type": "Bearer", "expires_in": "3599"])
        }
        router.get("/v3/projects/{project}/timeSeries") { request, context in
            let token = request.bearerToken
            let id = context.parameters.get("project") ?? ""
            guard let token, let project = self.state.withLock({ state in state.tokens[token].flatMap { state.projects[$0] } }), project.id == id
            else {
                let body: [String: Any] = [
                    "error": ["code": 401, "message": "Request had invalid authentication credentials.", "status": "UNAUTHENTICATED"]
                ]
                return try jsonObjectResponse(body, status: .unauthorized)
            }
            let query = request.queryValues
            guard let filter = query["filter"], filter.contains("compute.googleapis.com/instance/cpu/utilization"),
                let start = query["interval.startTime"].flatMap(ProviderDates.parse),
                let end = query["interval.endTime"].flatMap(ProviderDates.parse),
                start <= end
            else {
                let body: [String: Any] = ["error": ["code": 400, "message": "filter and interval are required", "status": "INVALID_ARGUMENT"]]
                return try jsonObjectResponse(body, status: .badRequest)
            }
            let size = min(Int(query["pageSize"] ?? "100") ?? 100, 100_000)
            let from = Int(query["pageToken"] ?? "0") ?? 0
            let page = project.instances.dropFirst(from).prefix(size)
            let firstHour = Int64(start.timeIntervalSince1970) / 3600
            let lastHour = Int64(end.timeIntervalSince1970 - 1) / 3600
            let series = page.map { instance -> [String: Any] in
                let points = stride(from: lastHour, through: firstHour, by: -1).map { hour -> [String: Any] in
                    let pointEnd = min(Double((hour + 1) * 3600), end.timeIntervalSince1970)
                    return [
                        "interval": [
                            "startTime": ProviderDates.format(Date(timeIntervalSince1970: Double(hour * 3600))),
                            "endTime": ProviderDates.format(Date(timeIntervalSince1970: pointEnd)),
                        ],
                        "value": ["doubleValue": NSDecimalNumber(decimal: Self.utilization(instance: instance.id, hour: hour))],
                    ]
                }
                return [
                    "metric": ["type": "compute.googleapis.com/instance/cpu/utilization", "labels": ["instance_name": instance.name]],
                    "resource": [
                        "type": "gce_instance", "labels": ["instance_id": instance.id, "zone": "europe-west1-b", "project_id": project.id],
                    ],
                    "metricKind": "GAUGE", "valueType": "DOUBLE", "points": points,
                ]
            }
            var body: [String: Any] = ["timeSeries": series, "unit": "10^2.%"]
            if from + size < project.instances.count { body["nextPageToken"] = String(from + size) }
            return try jsonObjectResponse(body)
        }
    }

}

/// A JWT's claims read before its signature is checked, to find which key should have signed it.
func unverifiedClaims<Claims: Decodable>(of token: String, as: Claims.Type) -> Claims? {
    guard let part = token.split(separator: ".").dropFirst().first else { return nil }
    var base64 = part.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
    base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
    return Data(base64Encoded: base64).flatMap { try? JSONDecoder().decode(Claims.self, from: $0) }
}
