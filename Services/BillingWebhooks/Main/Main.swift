import BillingWebhooks
import ServiceKit

@main
enum BillingWebhooksMain {
    static func main() async {
        await ServiceCommand<BillingWebhooksService>.main()
    }
}
