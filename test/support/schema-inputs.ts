/** Every argument and input field of a schema, with where it stands, for tests that hold a rule over all of them. */
import { isInputObjectType, isIntrospectionType, isObjectType, type GraphQLArgument, type GraphQLInputField, type GraphQLSchema } from 'graphql';

export interface SchemaInput {
  /** `Type.field` for an argument, `InputType` for an input field. */
  where: string;
  input: GraphQLArgument | GraphQLInputField;
}

export function schemaInputs(schema: GraphQLSchema): SchemaInput[] {
  const inputs: SchemaInput[] = [];
  for (const type of Object.values(schema.getTypeMap())) {
    if (isIntrospectionType(type)) continue;
    if (isObjectType(type)) for (const field of Object.values(type.getFields())) for (const arg of field.args) inputs.push({ where: `${type.name}.${field.name}`, input: arg });
    if (isInputObjectType(type)) for (const field of Object.values(type.getFields())) inputs.push({ where: type.name, input: field });
  }
  return inputs;
}
