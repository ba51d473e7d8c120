"""Staff accounts, roles and sign-in lockouts in the admin: who holds what is changed by
superusers only.

A Manager holds every model permission, ``auth.change_user`` and ``auth.change_group``
included. With Django's stock admin that let a Manager tick "superuser status" on their
own account, or add any permission to any role. Here the fields that grant (superuser and
staff status, groups, direct permissions) are read-only to anyone but a superuser, a
superuser's account is view-only to them (its password and its deletion included), and a
role's permissions are changed by superusers only. Another staff member's account is
view-only to a non-superuser too: setting a peer's password would let a Manager sign in as
them (and act in the audit log under their name). A Manager still creates accounts, edits
their own, and edits names, emails, passwords and "active" of accounts without staff status.
"""

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from unfold.admin import ModelAdmin
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm

GRANTING_FIELDS = ("is_staff", "is_superuser", "groups", "user_permissions")


def _guarded(request, obj) -> bool:
    """Whether ``obj`` is an account only a superuser may change or delete: a superuser's,
    or another staff member's."""
    if obj is None or request.user.is_superuser:
        return False
    return obj.is_superuser or (obj.is_staff and obj.pk != request.user.pk)


class StaffUserAdmin(UserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm

    def get_readonly_fields(self, request, obj=None):
        readonly = tuple(super().get_readonly_fields(request, obj))
        return readonly if request.user.is_superuser else readonly + GRANTING_FIELDS

    def has_change_permission(self, request, obj=None):
        return not _guarded(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not _guarded(request, obj) and super().has_delete_permission(request, obj)

    def get_deleted_objects(self, objs, request):
        """The bulk delete refuses a selection with a superuser or another staff member in
        it, unless you are a superuser."""
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        if any(_guarded(request, user) for user in objs):
            perms_needed = {*perms_needed, "staff and superuser accounts"}
        return deleted, counts, perms_needed, protected


class RoleGroupAdmin(GroupAdmin, ModelAdmin):
    """Roles (groups) are read-only to anyone but a superuser: changing what a role grants
    is granting it to everyone who holds it."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


class LockoutAdmin(AccessAttemptAdmin, ModelAdmin):
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
