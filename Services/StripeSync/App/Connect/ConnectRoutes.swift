import Crypto
import Foundation
import Hummingbird
import PostgresNIO
import ServiceKit
import StripeKit

/// Stripe Connect: the authorise URL, its OAuth callback, and the user's connections.
struct ConnectRoutes {
    let postgres: PostgresClient
    let settings: SyncSettings
    let platform: StripeClient
    let connect: StripeClient

    struct AuthorizeURL: ResponseCodable, Equatable { var url: String }

    /// Connect's token endpoint answer.
    struct TokenGrant: Decodable {
        var accessToken: String
        var refreshToken: String?
        var stripeUserID: String
        var scope: String?
        var livemode: Bool?

        enum CodingKeys: String, CodingKey {
            case scope, livemode
            case accessToken = "access_token"
            case refreshToken = "refresh_token"
            case stripeUserID = "stripe_user_id"
        }
    }

    struct Connection: Codable, Equatable {
        var id: UUID
        var stripeAccountId: String
        var businessName: String?
        var defaultCurrency: String?
        var syncStatus: String
        var lastSyncedAt: Date?
        var lastError: String?
        var createdAt: Date
    }

    struct Connections: ResponseCodable { var connections: [Connection] }

    var redirectURI: String { settings.appURL + "/api/stripe/connect" }

    func addRoutes(to router: Router<ServiceRequestContext>) {
        router.get("/api/stripe/connect") { request, context -> Response in
            let query = request.uri.queryParameters
            if let error = query.get("error") {
                // The user declined on Stripe's page: back to the dashboard, saying so.
                return .redirect(
                    to:
                        "\(settings.appURL)/dashboard?connected=false&error=\(error.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")"
                )
            }
            if let code = query.get("code"), let state = query.get("state") {
                try await complete(code: code, state: state, browserSecret: request.cookies[bindingCookie]?.value, context: context)
                var response = Response.redirect(to: "\(settings.appURL)/dashboard?connected=true")
                response.setCookie(bindingCookie(value: "", maxAge: 0))
                return response
            }
            let user = try context.requireUser()
            let (url, browserSecret) = try await authorizeURL(for: user.subject, context: context)
            var response = try AuthorizeURL(url: url).response(from: request, context: context)
            response.setCookie(bindingCookie(value: browserSecret, maxAge: Int(ConnectState.lifetime)))
            return response
        }
        router.get("/api/stripe/connections") { _, context -> Connections in
            let user = try context.requireUser()
            return Connections(connections: try await ConnectQueries.connections(of: user.subject, postgres: postgres, logger: context.logger))
        }
        router.delete("/api/stripe/connections/{id}") { _, context -> HTTPResponse.Status in
            let user = try context.requireUser()
            guard let id = UUID(uuidString: try context.parameters.require("id")),
                let account = try await ConnectQueries.ownedAccount(id, userID: user.subject, postgres: postgres, logger: context.logger)
            else { throw APIError.notFound("no such connection") }
            // Stripe first: a connection we forget but Stripe still honours would keep our access.
            do {
                let _: [String: String] = try await connect.post(
                    "/oauth/deauthorize",
                    [("client_id", .string(settings.clientID)), ("stripe_user_id", .string(account))]
                )
            } catch let error as StripeError where error.code == "invalid_client" || error.status == 401 {
                context.logger.notice("the account had already revoked access", metadata: ["account": .string(account)])
            } catch {
                throw APIError(.badGateway, "stripe_error", "Stripe could not deauthorize the account; try again")
            }
            try await ConnectQueries.deactivate(id, account: account, postgres: postgres, logger: context.logger)
            return .noContent
        }
        router.post("/api/stripe/connections/{id}/sync") { _, context -> EditedResponse<ConnectQueries.Queued> in
            let user = try context.requireUser()
            guard let id = UUID(uuidString: try context.parameters.require("id")),
                try await ConnectQueries.ownedAccount(id, userID: user.subject, postgres: postgres, logger: context.logger) != nil
            else { throw APIError.notFound("no such connection") }
            let queued = try await ConnectQueries.queueSync(connections: [id], postgres: postgres, logger: context.logger)
            return EditedResponse(status: .accepted, response: queued)
        }
        router.post("/api/stripe/sync") { _, context -> EditedResponse<ConnectQueries.Queued> in
            _ = try context.requireService()
            let queued = try await ConnectQueries.queueSync(connections: nil, postgres: postgres, logger: context.logger)
            return EditedResponse(status: .accepted, response: queued)
        }
    }

    /// The cookie that binds an authorisation to the browser that asked for it. `__Host-` (Secure, whole host, no
    /// Domain) when the app is served over HTTPS; Lax, so it comes back on the top-level redirect from Stripe.
    var bindingCookie: String { settings.appURL.hasPrefix("https://") ? "__Host-revmesh_connect" : "revmesh_connect" }

    func bindingCookie(value: String, maxAge: Int) -> Cookie {
        Cookie(
            name: bindingCookie,
            value: value,
            maxAge: maxAge,
            path: "/",
            secure: settings.appURL.hasPrefix("https://"),
            httpOnly: true,
            sameSite: .lax
        )
    }

    func authorizeURL(for userID: String, context: ServiceRequestContext) async throws -> (url: String, browserSecret: String) {
        let (state, browserSecret) = ConnectState.issue(for: userID)
        try await postgres.query(
            "INSERT INTO sync.oauth_states (nonce, user_id, expires_at) VALUES (\(state.nonce), \(userID), to_timestamp(\(Double(state.expiresAt))))",
            logger: context.logger
        )
        let query = FormEncoding.encode([
            ("response_type", "code"), ("client_id", .string(settings.clientID)), ("scope", "read_only"),
            ("state", .string(try state.signed(with: settings.stateKey))), ("redirect_uri", .string(redirectURI)),
        ])
        return ("\(settings.connectBase)/oauth/authorize?\(query)", browserSecret)
    }

    /// The OAuth callback: the state authenticates it, and only in the browser that started it (RFC 9700 §4.7: a link
    /// sent to someone else must not attach their account to the sender). Nothing is stored unless every step succeeds.
    func complete(code: String, state raw: String, browserSecret: String?, context: ServiceRequestContext) async throws {
        let state: ConnectState
        do {
            state = try ConnectState.verify(raw, key: settings.stateKey)
        } catch .expired {
            throw APIError.badRequest("state_expired", "this Connect link has expired; start again")
        } catch {
            throw APIError.badRequest("invalid_state", "this Connect link is not valid; start again")
        }
        guard state.isBound(to: browserSecret) else {
            throw APIError.badRequest("state_mismatch", "this Connect link was started in another browser; start again from your dashboard")
        }
        if let caller = context.identity, caller.isUser, caller.subject != state.userID {
            throw APIError.badRequest("state_mismatch", "this Connect link was started by another user; start again from your dashboard")
        }
        guard try await ConnectQueries.consume(state, postgres: postgres, logger: context.logger) else {
            throw APIError.badRequest("state_already_used", "this Connect link was already used; start again")
        }
        let grant: TokenGrant
        do {
            grant = try await connect.post("/oauth/token", [("grant_type", "authorization_code"), ("code", .string(code))])
        } catch let error as StripeError where error.code == "invalid_grant" {
            throw APIError.badRequest("invalid_grant", "Stripe refused the authorization code: \(error.message ?? "it is invalid or used")")
        } catch let error as StripeError {
            throw APIError(.badGateway, "stripe_error", "Stripe refused the connection: \(error.message ?? error.type)")
        } catch is StripeConnectionError {
            throw APIError(.serviceUnavailable, "stripe_unavailable", "Stripe cannot be reached; try again shortly")
        }
        let account: Account = try await mappingStripeErrors { try await platform.get("/v1/accounts/\(grant.stripeUserID)") }
        let access = try settings.cipher.seal(grant.accessToken)
        let refresh = try grant.refreshToken.map { try settings.cipher.seal($0).ciphertext }
        try await ConnectQueries.store(
            userID: state.userID,
            account: account,
            grant: grant,
            accessCiphertext: access.ciphertext,
            refreshCiphertext: refresh,
            keyID: access.keyID,
            postgres: postgres,
            logger: context.logger
        )
    }
}

extension Response {
    static func redirect(to location: String) -> Response {
        Response(status: .found, headers: [.location: location])
    }
}
