"""Staff accounts, roles and sign-in lockouts in the admin: who holds what is changed by
superusers only.

A Manager holds every model permission, ``auth.change_user`` and ``auth.change_group``
included. With Django's stock admin that let a Manager tick "superuser status" on their
own account, or add any permission to any role. Here the fields that grant (superuser and
staff status, groups, direct permissions) are read-only to anyone but a superuser, a
superuser's account is view-only to them (its password and its deletion included), and a
role's permissions are changed by superusers only. A Manager still creates accounts and
edits names, emails, passwords and "active" of non-superusers.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User

GRANTING_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


class StaffUserAdmin(UserAdmin):
    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else readonly + GRANTING_FIELDS

    def has_change_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """The bulk delete refuses a selection with a superuser in it, unless you are one."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if not request.user.is_superuser and any(user.is_superuser for user in objs):
            perms_needed = {*perms_needed, "superuser accounts"}
        return deleted, counts, perms_needed, protected


class RoleGroupAdmin(GroupAdmin):
    """Roles (groups) are read-only to anyone but a superuser: changing what a role grants
    is granting it to everyone who holds it."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class LockoutAdmin(AccessAttemptAdmin):
    """django-axes' sign-in lockouts: deleting a row lifts that lockout. Its clean-up action
    deletes rows, so it needs the delete permission (axes declares none)."""

    @admin.action(description="Clean up expired attempts", permissions=["delete"])
    def cleanup_expired_attempts(self, request, queryset):
        return super().cleanup_expired_attempts(request, queryset)


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
    admin.site.register(AccessAttempt, LockoutAdmin)
admin.site.unregister(User)
admin.site.unregister(Group)
admin.site.register(User, StaffUserAdmin)
admin.site.register(Group, RoleGroupAdmin)
