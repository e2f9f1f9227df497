/**
 * The slice of the node-oracledb API the Oracle source uses, typed here because the package
 * ships no typings. The real module and the test fake (test/fakes/fake-oracledb.ts) both
 * satisfy it.
 */
/** A node-oracledb `DbType` constant; compared by identity with the driver's own. */
export interface OracleDbType {
  readonly num: number;
  readonly name: string;
  readonly columnTypeName: string;
}
export interface OracleMetaData {
  name: string;
  dbType?: OracleDbType;
  dbTypeName?: string;
  precision?: number;
  scale?: number;
}
export interface OracleExecuteOptions {
  outFormat?: number;
  fetchTypeHandler?: (metaData: OracleMetaData) => { type?: OracleDbType } | undefined;
  maxRows?: number;
  fetchArraySize?: number;
  prefetchRows?: number;
  /** Return a cursor (`resultSet`) instead of fetching every row into `rows`. */
  resultSet?: boolean;
}
/** A query's open cursor; must be closed on every path (its statement goes back to the cache). */
export interface OracleResultSet {
  /** The next rows, fewer than `n` only at the end (lib/thin/resultSet.js getRows). */
  getRows(n: number): Promise<unknown[]>;
  close(): Promise<void>;
}
export interface OracleResult {
  rows?: unknown[];
  resultSet?: OracleResultSet;
  metaData?: OracleMetaData[];
}
export interface OracleConnection {
  callTimeout: number;
  /** e.g. 1903000000 for 19.3 (major * 1e8 + minor * 1e6 + ...); set once connected. */
  readonly oracleServerVersion?: number;
  readonly oracleServerVersionString?: string;
  execute(sql: string, binds: Record<string, unknown>, options: OracleExecuteOptions): Promise<OracleResult>;
  close(options?: { drop?: boolean }): Promise<void>;
}
export interface OraclePool {
  getConnection(): Promise<OracleConnection>;
  close(drainTimeSeconds?: number): Promise<void>;
}
/**
 * Thin mode's TCPS and naming settings, passed to createPool unchanged (node-oracledb 6+):
 * `walletLocation` is the directory of the PEM wallet `ewallet.pem`, `walletPassword` decrypts
 * it, `configDir` holds tnsnames.ora for an alias dsn, `sslServerDNMatch`/`sslServerCertDN`
 * check the server certificate's name. TCPS itself is chosen by the dsn
 * (`tcps://host:2484/service` or a descriptor with PROTOCOL=TCPS).
 */
export interface OracleNetAttributes {
  walletLocation?: string;
  walletPassword?: string;
  configDir?: string;
  sslServerDNMatch?: boolean;
  sslServerCertDN?: string;
}

/** The `oracle_db` keys of the same settings; empty strings mean "not set". */
export interface OracleNetConfig {
  wallet_location: string;
  wallet_password: string;
  config_dir: string;
  ssl_server_dn_match: boolean;
  ssl_server_cert_dn: string;
}

/** Maps the `oracle_db` keys to createPool attributes, leaving out what is not set. */
export function oracleNetAttributes(c: OracleNetConfig): OracleNetAttributes {
  return {
    ...(c.wallet_location ? { walletLocation: c.wallet_location } : {}),
    ...(c.wallet_password ? { walletPassword: c.wallet_password } : {}),
    ...(c.config_dir ? { configDir: c.config_dir } : {}),
    // The driver's default is true: pass it only when the operator turned it off.
    ...(c.ssl_server_dn_match === false ? { sslServerDNMatch: false } : {}),
    ...(c.ssl_server_cert_dn ? { sslServerCertDN: c.ssl_server_cert_dn } : {}),
  };
}

export interface OraclePoolAttributes extends OracleNetAttributes {
  user: string;
  password: string;
  connectString: string;
  poolMin: number;
  poolMax: number;
  poolIncrement: number;
  poolTimeout?: number;
  /** Minutes between TCP keepalive probes (Thin: the connect descriptor's EXPIRE_TIME). */
  expireTime?: number;
}
export interface OracleDriver {
  createPool(attributes: OraclePoolAttributes): Promise<OraclePool>;
  readonly OUT_FORMAT_OBJECT: number;
  readonly STRING: OracleDbType;
  readonly DB_TYPE_NUMBER: OracleDbType;
  readonly DB_TYPE_VARCHAR: OracleDbType;
  readonly DB_TYPE_NVARCHAR: OracleDbType;
  readonly DB_TYPE_CHAR: OracleDbType;
  readonly DB_TYPE_NCHAR: OracleDbType;
  readonly DB_TYPE_RAW: OracleDbType;
  readonly DB_TYPE_BLOB: OracleDbType;
  readonly DB_TYPE_JSON: OracleDbType;
  readonly DB_TYPE_CLOB: OracleDbType;
  readonly DB_TYPE_NCLOB: OracleDbType;
  readonly DB_TYPE_DATE: OracleDbType;
  readonly DB_TYPE_TIMESTAMP: OracleDbType;
  readonly DB_TYPE_TIMESTAMP_TZ: OracleDbType;
  readonly DB_TYPE_TIMESTAMP_LTZ: OracleDbType;
}
