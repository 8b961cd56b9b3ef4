/** A configuration value that cannot be used. The service prints the message and exits with 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly variable: string;
  readonly token: string;

  constructor(variable: string, token: string, problem: string) {
    super(`${variable}: ${JSON.stringify(token)}: ${problem}`);
    this.variable = variable;
    this.token = token;
  }
}
