// azd deploys this with every new Classifier image (azure.yaml service `classifier`).
import { ledger } from 'modules/shared.bicep'

@description('azd environment name.')
param environmentName string

@description('The image azd just built and pushed (SERVICE_CLASSIFIER_IMAGE_NAME).')
param image string

module classifier 'modules/app.bicep' = {
  name: 'classifier-app'
  params: {
    name: 'classifier'
    environmentName: environmentName
    azdServiceName: 'classifier'
    image: image
    grpc: true
    secrets: [ ledger.secret ]
    env: [ ledger.env ]
  }
}
