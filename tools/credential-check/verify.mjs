#!/usr/bin/env node
/*
 * Verifies a credential's Data Integrity proof (eddsa-rdfc-2022) with Digital Bazaar's
 * JavaScript stack: jsonld-signatures, @digitalbazaar/data-integrity,
 * @digitalbazaar/eddsa-rdfc-2022-cryptosuite and @digitalbazaar/ed25519-multikey, which
 * canonicalise with jsonld.js and rdf-canonize. The issuer canonicalises with pyld: a
 * canonicalisation or encoding bug in one is not shared by the other, which is the point.
 *
 * Offline by construction: the document loader serves only the JSON-LD contexts vendored in
 * governance/credentials/contexts/, the DID documents given on the command line, and did:key
 * documents (derived from the identifier itself, as the did:key method defines). Any other
 * URL is refused, so a credential naming something else fails instead of reaching out.
 * (No Data Integrity context is needed: the suite accepts the VC 2.0 context in its place,
 * which defines DataIntegrityProof.)
 *
 * Usage: node verify.mjs CREDENTIAL.json [--did-document DID.json]... [--contexts DIR]
 * Prints one JSON object: {"verified": true|false, "errors": [...], "verificationMethod",
 * "controller", "verifier": {package: version}}. Exit status 0 when verified, 1 when not,
 * 2 when the command itself is wrong (unreadable file, bad arguments).
 */
import {readFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {parseArgs} from 'node:util';

import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import jsigs from 'jsonld-signatures';

const HERE = dirname(fileURLToPath(import.meta.url));
const DEFAULT_CONTEXTS = join(HERE, '..', '..', 'governance', 'credentials', 'contexts');
// The URLs governance/credentials/contexts/README.md lists, each with its vendored file.
const CONTEXT_FILES = {
  'https://www.w3.org/ns/credentials/v2': 'credentials-v2.jsonld',
  'https://www.w3.org/ns/credentials/examples/v2': 'credentials-examples-v2.jsonld',
  'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json': 'ob-v3p0-context-3.0.3.json',
};
const STACK = [
  'jsonld-signatures',
  '@digitalbazaar/data-integrity',
  '@digitalbazaar/eddsa-rdfc-2022-cryptosuite',
  '@digitalbazaar/ed25519-multikey',
  'jsonld',
  'rdf-canonize',
];
const DID_V1 = 'https://www.w3.org/ns/did/v1';
const MULTIKEY_V1 = 'https://w3id.org/security/multikey/v1';

class UsageError extends Error {}

function readJson(path, what) {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch(error) {
    throw new UsageError(`cannot read the ${what} ${path}: ${error.message}`);
  }
}

function versions() {
  const found = {};
  for(const name of STACK) {
    found[name] = readJson(join(HERE, 'node_modules', name, 'package.json'), 'package file').version;
  }
  return found;
}

// did:key:z6Mk... is its own document: one Multikey whose id is the identifier's fragment.
function didKeyDocument(did) {
  const key = did.slice('did:key:'.length);
  if(!key.startsWith('z6Mk')) {
    throw new Error(`${did} is not an Ed25519 did:key`);
  }
  const method = {id: `${did}#${key}`, type: 'Multikey', controller: did, publicKeyMultibase: key};
  return {
    '@context': [DID_V1, MULTIKEY_V1],
    id: did,
    verificationMethod: [method],
    assertionMethod: [method.id],
  };
}

function documentLoaderFor({contextsDir, didDocuments}) {
  const byDid = new Map(didDocuments.map(document => [document.id, document]));
  const answer = (url, document) => ({contextUrl: null, documentUrl: url, document});
  return async function documentLoader(url) {
    if(Object.hasOwn(CONTEXT_FILES, url)) {
      return answer(url, readJson(join(contextsDir, CONTEXT_FILES[url]), 'context'));
    }
    const [did, fragment] = url.split('#', 2);
    let controller = byDid.get(did);
    if(!controller && did.startsWith('did:key:')) {
      controller = didKeyDocument(did);
    }
    if(controller) {
      if(fragment === undefined) {
        return answer(url, controller);
      }
      // A verification method is served as its own document, in the controller's contexts.
      const method = (controller.verificationMethod || []).find(m => m.id === url);
      if(method) {
        return answer(url, {'@context': controller['@context'], ...method});
      }
      throw new Error(`${did}'s DID document lists no verification method ${url}`);
    }
    throw new Error(`refusing to load ${url}: only the vendored contexts and the DID documents given are served`);
  };
}

function messages(error) {
  if(!error) {
    return [];
  }
  if(Array.isArray(error)) {
    return error.flatMap(messages);
  }
  let own = error.message || String(error);
  // jsonld.js says what safe mode refused (a dropped property, a relative IRI) in the details.
  const event = error.details?.event;
  if(event) {
    own += ` (${event.code}: ${event.message})`;
  }
  return [own, ...messages(error.cause)];
}

async function main(argv) {
  const {values, positionals} = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'did-document': {type: 'string', multiple: true, default: []},
      contexts: {type: 'string', default: DEFAULT_CONTEXTS},
    },
  });
  if(positionals.length !== 1) {
    throw new UsageError('usage: node verify.mjs CREDENTIAL.json [--did-document DID.json]... [--contexts DIR]');
  }
  const credential = readJson(positionals[0], 'credential');
  const didDocuments = values['did-document'].map(path => readJson(path, 'DID document'));
  const documentLoader = documentLoaderFor({contextsDir: values.contexts, didDocuments});
  const result = await jsigs.verify(credential, {
    suite: new DataIntegrityProof({cryptosuite: eddsaRdfc2022}),
    purpose: new jsigs.purposes.AssertionProofPurpose(),
    documentLoader,
  });
  const [first] = result.results || [];
  const errors = messages(result.error);
  for(const each of result.results || []) {
    errors.push(...messages(each.error), ...messages(each.purposeResult?.error));
  }
  return {
    verified: result.verified === true,
    errors: [...new Set(errors)],
    verificationMethod: first?.verificationMethod?.id ?? null,
    controller: first?.purposeResult?.controller?.id ?? null,
    verifier: versions(),
  };
}

try {
  const verdict = await main(process.argv.slice(2));
  process.stdout.write(JSON.stringify(verdict) + '\n');
  process.exitCode = verdict.verified ? 0 : 1;
} catch(error) {
  const usage = error instanceof UsageError || error.code?.startsWith?.('ERR_PARSE_ARGS');
  process.stdout.write(JSON.stringify({verified: false, errors: messages(error)}) + '\n');
  process.exitCode = usage ? 2 : 1;
}
