/**
 * EC2 API errors: a code (EC2's, e.g. `InvalidGroup.NotFound`), a message, and
 * the HTTP status (400 for what the caller sent, 403 for authentication and
 * authorization, 412 for DryRunOperation, 500 for our own failures).
 */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = 'Ec2Error';
  }
}

export const missingParameter = (name: string): Ec2Error => new Ec2Error('MissingParameter', `The request must contain the parameter ${name}`);
export const invalidParameterValue = (message: string): Ec2Error => new Ec2Error('InvalidParameterValue', message);
export const groupNotFound = (id: string): Ec2Error => new Ec2Error('InvalidGroup.NotFound', `The security group '${id}' does not exist`);
export const groupNameNotFound = (name: string, vpcId: string): Ec2Error =>
  new Ec2Error('InvalidGroup.NotFound', `The security group '${name}' does not exist in default VPC '${vpcId}'`);
export const malformedGroupId = (id: string): Ec2Error => new Ec2Error('InvalidGroupId.Malformed', `Invalid id: "${id}" (expecting "sg-...")`);
