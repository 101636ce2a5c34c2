// azd deploys this with every new Scoring image (azure.yaml service `scoring`).
import { cache, ledger, workerModels, workerName } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_SCORING_IMAGE_NAME).')
param image string

@description('Models the provision deployed, comma-separated (its ROUTER_MODELS output).')
param routerModels string

module scoring 'modules/app.bicep' = {
  name: 'scoring-app'
  params: {
    name: 'scoring'
    environmentName: environmentName
    azdServiceName: 'scoring'
    image: image
    grpc: true
    // Its p_true/p_ik options ask a model's worker app; a model whose worker runs in the Gateway has none.
    grpcReferences: map(workerModels(routerModels), model => workerName(model.name))
    secrets: [ cache.secret, ledger.secret ]
    env: [ cache.env, ledger.env ]
  }
}
