// azd deploys this with every new Policy image (azure.yaml service `policy`).
import { ledger, deployedModels } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_POLICY_IMAGE_NAME).')
param image string

@description('Models the provision deployed, comma-separated (its ROUTER_MODELS output).')
param routerModels string

var chain = map(deployedModels(routerModels), model => model.name)

// The "default" policy (model: "auto") until `router policy fit --name default` stores a fitted
// one: every deployed model cheapest first, escalating below 0.9 (as the AppHost does locally).
// Policy has no appsettings.json chain, so these variables are its only source.
var defaultPolicy = concat(
  map(range(0, length(chain)), i => { name: 'Policy__Defaults__default__Chain__${i}', value: chain[i] }),
  map(range(0, max(length(chain) - 1, 0)), i => { name: 'Policy__Defaults__default__Thresholds__${i}', value: '0.9' }))

module policy 'modules/app.bicep' = {
  name: 'policy-app'
  params: {
    name: 'policy'
    environmentName: environmentName
    azdServiceName: 'policy'
    image: image
    grpc: true
    secrets: [ ledger.secret ]
    env: concat([ ledger.env ], defaultPolicy)
  }
}
