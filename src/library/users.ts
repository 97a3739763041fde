// The users namespace of the package (src/index.ts): what a library user calls, not the module's input schemas.
export { createUser, deactivateUser, findUserByEmail, getUser, listUsers, updateUser } from '../core/users.ts';
export type { NewUser, User, UserListOptions, UserPatch } from '../core/users.ts';
