/**
 * Every argument and input field that sounds like a secret or like personal data carries an
 * audit mark (src/schema/audit-marks.ts), so a new field cannot forget one: the audit trail
 * decides what it keeps by these marks, never by a client's variable names.
 */
import { getNamedType, isInputObjectType, isObjectType, isScalarType, type GraphQLArgument, type GraphQLInputField } from 'graphql';
import { describe, expect, it } from 'vitest';
import { isAuditMark } from '../../src/domains/audit/marks.js';
import { schema } from '../../src/schema/index.js';

// Names that say "secret" or "personal", matched on the words of the name (`refreshToken` is
// "refresh Token"), so `roleMapping` is not taken for a PIN.
const SECRET = /\b(pass(word|phrase)?|pwd|tokens?|secrets?|keys?|credentials?|authorization|cookies?|otp|pin)\b/i;
const PERSONAL = /\b(e-?mails?|phones?|(display|full|first|last|given|family) name|birth\w*|address(es)?|ssn|iban|cards?)\b/i;

/** Every argument and input field of the schema, with where it is. */
function inputValues(): { where: string; value: GraphQLArgument | GraphQLInputField }[] {
  const found: { where: string; value: GraphQLArgument | GraphQLInputField }[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (type.name.startsWith('__')) continue;
    if (isObjectType(type)) {
      for (const field of Object.values(type.getFields())) {
        for (const arg of field.args) found.push({ where: `${type.name}.${field.name}(${arg.name})`, value: arg });
      }
    }
    if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) found.push({ where: `${type.name}.${field.name}`, value: field });
    }
  }
  return found;
}

/** String, ID and JSON (any scalar that can carry text), not Int/Boolean/enums/DateTime. */
function carriesText(value: GraphQLArgument | GraphQLInputField): boolean {
  const named = getNamedType(value.type);
  return isScalarType(named) && ['String', 'ID', 'JSON', 'JSONObject'].includes(named.name);
}

describe('audit marks', () => {
  it('every secret- or personal-sounding String/ID/JSON argument and input field is marked', () => {
    const words = (name: string) => name.replace(/([a-z0-9])([A-Z])/g, '$1 $2').replace(/_/g, ' ');
    const unmarked = inputValues()
      .filter(({ value }) => carriesText(value) && (SECRET.test(words(value.name)) || PERSONAL.test(words(value.name))))
      .filter(({ value }) => !isAuditMark(value.extensions?.audit))
      .map(({ where }) => where);
    expect(unmarked).toEqual([]);
  });

  it('marks what the issue names, where it is defined', () => {
    const marks = Object.fromEntries(inputValues().map(({ where, value }) => [where, value.extensions?.audit]));
    expect(marks).toMatchObject({
      'Mutation.deleteMyAccount(password)': 'secret',
      'LogInInput.password': 'secret',
      'LogInInput.email': 'email',
      'SignUpInput.password': 'secret',
      'SignUpInput.email': 'email',
      'Mutation.acceptInvitation(password)': 'secret',
      'Mutation.acceptInvitation(token)': 'secret',
      'Mutation.acceptInvitation(displayName)': 'personal',
      'Mutation.refreshSession(refreshToken)': 'secret',
      'Mutation.inviteMember(email)': 'email',
      'RegisterIdentityProviderInput.jwks': 'keySet',
      'CreateModelInput.apiKey': 'secret',
      'UpdateModelInput.apiKey': 'secret',
      'Query.queryEndpoint(query)': 'text',
      'Subscription.endpointQuery(query)': 'text',
      'InlineDocumentInput.text': 'text',
      'CreateDatasetInput.description': 'text',
      'CreateEndpointInput.description': 'text',
    });
  });

  it('marks are only ever one of the known kinds', () => {
    const wrong = inputValues().filter(({ value }) => value.extensions?.audit !== undefined && !isAuditMark(value.extensions.audit));
    expect(wrong.map(({ where }) => where)).toEqual([]);
  });
});
