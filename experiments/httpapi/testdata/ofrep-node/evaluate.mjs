// Evaluates flags through the official OpenFeature OFREP provider for Node
// and prints the evaluation details as JSON. Used by ofrep_node_test.go.
//
// Environment: OFREP_URL (the server's base URL), OFREP_KEY (an sdk API
// key), OFREP_CASES (a JSON array of {flag, type, default, context}).
import { OpenFeature } from '@openfeature/server-sdk';
import { OFREPProvider } from '@openfeature/ofrep-provider';

const cases = JSON.parse(process.env.OFREP_CASES);
const provider = new OFREPProvider({
  baseUrl: process.env.OFREP_URL,
  headers: [['Authorization', `Bearer ${process.env.OFREP_KEY}`]],
});
await OpenFeature.setProviderAndWait(provider);
const client = OpenFeature.getClient('promolift-ofrep-node-test');

const out = [];
for (const c of cases) {
  let details;
  switch (c.type) {
    case 'boolean':
      details = await client.getBooleanDetails(c.flag, c.default, c.context);
      break;
    case 'number':
      details = await client.getNumberDetails(c.flag, c.default, c.context);
      break;
    case 'object':
      details = await client.getObjectDetails(c.flag, c.default, c.context);
      break;
    default:
      details = await client.getStringDetails(c.flag, c.default, c.context);
  }
  out.push({
    flag: c.flag,
    targetingKey: c.context.targetingKey ?? '',
    value: details.value,
    variant: details.variant ?? '',
    reason: details.reason ?? '',
    errorCode: details.errorCode ?? '',
  });
}
await OpenFeature.close();
process.stdout.write(JSON.stringify(out));
