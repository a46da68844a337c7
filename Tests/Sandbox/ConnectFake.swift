import Foundation
import HTTPTypes
import Hummingbird
import StripeKit
import Synchronization

/// Stripe Connect's OAuth: an authorise page that approves at once and redirects with a code, the token exchange
/// (each code once), deauthorisation, and the connected accounts themselves.
public final class ConnectFake: Sendable {
    struct State {
        var accounts: [String: Account] = [:]
        /// code → account id; a code is removed when exchanged.
        var codes: [String: String] = [:]
        var deauthorized: [String] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Adds an account that the authorise page can hand out (`account=` in its query picks it).
    public func addAccount(id: String, name: String, currency: String) {
        state.withLock {
            $0.accounts[id] = Account(id: id, email: nil, country: "US", defaultCurrency: currency, businessProfile: .init(name: name))
        }
    }

    public var deauthorized: [String] { state.withLock { $0.deauthorized } }

    func addRoutes(to router: Router<BasicRequestContext>) {
        router.get("oauth/authorize") { request, _ in
            let query = request.uri.queryParameters
            guard let redirect = query.get("redirect_uri"), let state = query.get("state"), query.get("client_id")?.hasPrefix("ca_") == true else {
                return try jsonResponse(["error": "invalid_request"], status: .badRequest)
            }
            let code = StripeFake.newID("ac")
            self.state.withLock { state in
                let id = query.get("account") ?? StripeFake.newID("acct")
                if state.accounts[id] == nil {
                    state.accounts[id] = Account(id: id, country: "US", defaultCurrency: "usd", businessProfile: .init(name: "Sandbox Business \(id.suffix(6))"))
                }
                state.codes[code] = id
            }
            let separator = redirect.contains("?") ? "&" : "?"
            let encodedState = state.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? state
            return Response(status: .found, headers: [.location: "\(redirect)\(separator)code=\(code)&state=\(encodedState)&scope=read_only"])
        }
        let oauth = router.group("oauth").add(middleware: SecretKeyMiddleware())
        oauth.post("token") { request, context in
            let form = try await FormFields(request, context)
            guard form["grant_type"] == "authorization_code", let code = form["code"],
                let account = self.state.withLock({ $0.codes.removeValue(forKey: code) })
            else {
                return try jsonResponse(["error": "invalid_grant", "error_description": "Authorization code does not exist or was already used"], status: .badRequest)
            }
            return try jsonResponse(TokenResponse(accessToken: "sk_test_connected_\(account)", refreshToken: "rt_\(account)", stripeUserID: account))
        }
        oauth.post("deauthorize") { request, context in
            let form = try await FormFields(request, context)
            let account = try form.require("stripe_user_id")
            self.state.withLock { $0.deauthorized.append(account) }
            return try jsonResponse(["stripe_user_id": account])
        }
        router.group("v1").add(middleware: SecretKeyMiddleware()).get("accounts/:id") { _, context in
            let id = try context.parameters.require("id")
            guard let account = self.state.withLock({ $0.accounts[id] }) else { throw missing("account", id) }
            return try stripeJSON(account, object: "account")
        }
    }
}

/// Connect's token endpoint answer.
struct TokenResponse: Encodable {
    var accessToken: String
    var refreshToken: String
    var stripeUserID: String
    var scope = "read_only"
    var tokenType = "bearer"
    var livemode = false

    enum CodingKeys: String, CodingKey {
        case scope, livemode
        case accessToken = "access_token"
        case refreshToken = "refresh_token"
        case stripeUserID = "stripe_user_id"
        case tokenType = "token_type"
    }
}
