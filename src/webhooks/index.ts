export { CallbackPolicy, type CallbackPolicyConfig } from './callback-policy.js'
export {
  WebhookDeliveries,
  type DeliverySettings,
  type WebhookDeliveryView,
  type WebhookEndpoint,
} from './deliveries.js'
export {
  WebhookEndpointRegistry,
  type RegisteredEndpointView,
  type WebhookEndpointsTable,
} from './endpoints.js'
export {
  signWebhook,
  verifyWebhook,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
} from './signature.js'
